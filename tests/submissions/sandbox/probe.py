"""A curious submission: reports what it can see and do from inside the worker."""

import os
import resource
import socket
import sys


def probe(paths, secret_name, targets):
    found = {}
    for path in paths:
        try:
            found[path] = sorted(os.listdir(path))
        except OSError as exc:
            found[path] = f"error: {exc.strerror}"
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        network = "connected"
    except OSError as exc:
        network = exc.strerror or str(exc)
    try:
        with open(f"/proc/{os.getppid()}/environ", "rb") as f:
            parent_env = secret_name.encode() in f.read()
    except OSError:
        parent_env = False
    written = []
    for target in targets:
        try:
            with open(target, "w") as f:
                f.write("x")
            written.append(target)
        except OSError:
            pass
    return {
        "pid": os.getpid(),
        "listing": found,
        "network": network,
        "secret_in_env": secret_name in os.environ,
        "secret_in_parent_env": parent_env,
        "isolated": sys.flags.isolated,
        "no_site": sys.flags.no_site,
        "cpu_limit": resource.getrlimit(resource.RLIMIT_CPU)[0],
        "core_limit": resource.getrlimit(resource.RLIMIT_CORE)[0],
        "fsize_limit": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
        "written": written,
        "env_keys": sorted(os.environ),
    }
