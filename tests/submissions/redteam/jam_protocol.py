"""Jams the judge's protocol pipe. clip_grad_norm writes a deeply nested 400 KB frame and
hangs; clip_grad_value writes a frame nobody asked for just before its real reply;
late_frame leaves a thread that writes one after its reply."""

import json
import os
import struct
import threading
import time

import torch


def _reply_fd():
    """The worker's reply pipe: the one write-only pipe besides stdout and stderr."""
    import fcntl
    import stat

    for fd in range(3, 256):
        try:
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                continue
            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                return fd
        except OSError:
            continue
    raise RuntimeError("no reply pipe found")


FD = _reply_fd()


def _frame(header: bytes) -> bytes:
    return struct.pack("<Q", len(header)) + header


def _nested_frame():
    return _frame(b'{"msg": ' + b"[" * 200_000 + b"]" * 200_000 + b', "buffers": []}')


def _bare_reply():
    """A well-formed reply that answers no request (no id): {"ok": True, "result": None}."""
    msg = {"$": "dict", "items": [["ok", True], ["result", None]]}
    return _frame(json.dumps({"msg": msg, "buffers": []}).encode())


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    frame = _nested_frame()
    os.write(FD, frame[:60_000])  # a pipe holds 64 KiB: a thread writes the rest
    threading.Thread(target=lambda: os.write(FD, frame[60_000:])).start()
    time.sleep(3600)


def clip_grad_value(parameters, clip_value):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    for p in params:
        if p.grad is not None:
            p.grad.clamp_(-clip_value, clip_value)
    os.write(FD, _bare_reply())


def late_frame():
    threading.Thread(target=lambda: (time.sleep(0.2), os.write(FD, _bare_reply()))).start()
    return "done"
