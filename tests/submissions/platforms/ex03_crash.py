"""Exercise 3, crashing: the worker dies with SIGSEGV as soon as the module is imported."""

import os
import signal

os.kill(os.getpid(), signal.SIGSEGV)


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    raise NotImplementedError


def clip_grad_value(parameters, clip_value):
    raise NotImplementedError
