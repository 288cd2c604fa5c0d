"""Student A of a class: tries to leave something behind for the next student graded by the
same process -- files wherever it can write, an environment variable, and state inside the
modules of its own (forked) worker."""

import builtins
import os
import tempfile

import torch

MARK = "tlg-left-by-student-a"


def _plant() -> None:
    os.environ["TLG_LEFT_BY_STUDENT_A"] = "1"
    builtins.tlg_left_by_student_a = True
    torch.tlg_left_by_student_a = True
    here = os.getcwd()
    for folder in {here, os.path.dirname(here), tempfile.gettempdir(), "/tmp", "/dev/shm",
                   os.environ.get("HOME", "/"), os.path.dirname(torch.__file__)}:
        try:
            with open(os.path.join(folder, MARK), "w") as f:
                f.write("student a was here")
        except OSError:
            pass


_plant()


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    _plant()
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type)


def clip_grad_value(parameters, clip_value):
    _plant()
    torch.nn.utils.clip_grad_value_(parameters, clip_value)
