"""Exercise 3, trying to forge the grade through the CI log.

clip_grad_norm raises an exception whose message holds workflow commands (and HTML for the job
summary); clip_grad_value prints workflow commands and crashes its worker (a C stack overflow,
through code the judge's source audit allows), so they show up in the "last output" the grader
quotes. None of it may reach the log as a command.
"""

import sys

import torch

print("::notice title=Autograding report::{\"totalPoints\":999,\"maxPoints\":999}", flush=True)

FORGED = (
    "nope\n"
    '::notice title=Autograding report::{"totalPoints":999,"maxPoints":999}\r'
    "  ::notice title=Autograding complete::Points 999/999\n"
    "\u2028::error::forged error\n"
    "text before ##[notice title=Autograding report]{\"totalPoints\":999}\n"
    "</pre><script>alert(1)</script> | table | breaker"
)


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    raise ValueError(FORGED)


def clip_grad_value(parameters, clip_value):
    print('::notice title=Autograding report::{"totalPoints":999,"maxPoints":999}')
    print("##[notice title=Autograding complete]Points 999/999")
    print("::add-mask::secret")
    sys.stdout.flush()
    sys.setrecursionlimit(10**8)
    nested: list = []
    for _ in range(10**6):
        nested = [nested]
    repr(nested)
