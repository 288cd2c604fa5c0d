"""Exercise 3, crashing: the worker dies with SIGSEGV as soon as the module is imported.

Nothing here is refused by the judge's source audit: a recursion limit raised past what the C
stack can hold, then ``repr`` of a deeply nested list, overflows the stack in C.
"""

import sys

sys.setrecursionlimit(10**8)
_nested: list = []
for _ in range(10**6):
    _nested = [_nested]
repr(_nested)


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    raise NotImplementedError


def clip_grad_value(parameters, clip_value):
    raise NotImplementedError
