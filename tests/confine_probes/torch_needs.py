"""Discovery run (unconfined): what ``import torch`` and a small matmul load from disk.

Run as ``python -I -S torch_needs.py SITE_DIR...``: the site-packages folders are appended to
``sys.path`` by hand, as the sandbox does. Prints JSON:

- ``entries``: the site-packages entries (package folders, single-file modules, ``*.libs``
  folders) that loaded modules or mapped shared libraries live in;
- ``lib_dirs``: folders of shared libraries mapped from outside the stdlib and site-packages;
- ``stdlib``: the standard library folder.

The confined run grants exactly these (plus a few kernel files) and must still work.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig


def loaded() -> set[str]:
    """Real paths of every loaded module's file and every file mapped into memory."""
    files = {m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)}
    with open("/proc/self/maps") as maps:
        fields = [line.split(None, 5) for line in maps]
    files |= {f[5].strip() for f in fields if len(f) == 6 and f[5].startswith("/")}
    return {os.path.realpath(p) for p in files if os.path.isfile(p)}


sites = [os.path.realpath(p) for p in sys.argv[1:]]
sys.path += sites
before = loaded()  # what the interpreter had before the confined run would restrict it

import torch  # noqa: E402

torch.set_num_threads(2)
float((torch.randn(512, 512) @ torch.randn(512, 512)).sum())

stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])


def site_entry(path: str) -> str | None:
    """The top-level site-packages entry ``path`` lies in, if it lies in one."""
    for site in sites:
        if path.startswith(site + os.sep):
            return os.path.join(site, path[len(site) + 1 :].split(os.sep, 1)[0])
    return None


entries: set[str] = set()
lib_dirs: set[str] = set()
for path in loaded() - before:
    entry = site_entry(path)
    if entry:
        entries.add(entry)
    elif not path.startswith(stdlib + os.sep):
        lib_dirs.add(os.path.dirname(path))
print(json.dumps({"entries": sorted(entries), "lib_dirs": sorted(lib_dirs), "stdlib": stdlib}))
