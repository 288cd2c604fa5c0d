"""``grade new NN slug``: the files of a new exercise, ready to fill in.

An exercise is a set of files that line up by name (see docs/adding-an-exercise.md). This
writes each of them with the smallest content that already works end to end -- a solution
with one function between solution markers, a reference built on torch, a public and a hidden
suite that check the solution against the reference -- then generates the stub and notebook
with ``grade stubs``. ``grade verify NN`` passes straight away: solution full marks, stub 0.
Nothing existing is ever overwritten.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from grader.judge.failures import GraderError

SLUG = re.compile(r"^[a-z][a-z0-9_]*$")

SOLUTION = '''"""Exercise {n} - {title}.

Say what the student builds and why, then the math in $...$, the shapes, the torch semantics
the grader checks and a worked example (COURSE.md §3).

**What your file may use.** Describe the exercise's policy here (see the AUDIT literal in
reference/{module}.py).
"""

from __future__ import annotations

import torch
from torch import Tensor


def double(x: Tensor) -> Tensor:
    """Twice ``x``, elementwise.

    Example:
        >>> double(torch.tensor([1.0, 2.0]))
        tensor([2., 4.])
    """
    # BEGIN SOLUTION
    return x + x
    # END SOLUTION
'''

REFERENCE = '''"""Reference for exercise-{n}: the same API on PyTorch's own functions."""

from __future__ import annotations

from torch import Tensor

TITLE = "{title}"
# Dotted names the student may not call (each must resolve in the installed torch).
FORBIDDEN: list[str] = []
# What the judge's source audit allows: the course baseline, plus "imports_add", minus
# "imports_drop"; "extras" are further names refused however spelled.
AUDIT = {{
    "extras": [],
    "why": "exercise-{n} is {title_lower}",
    "instead": "write it with plain tensor operations",
}}
# Functions whose changes to their tensor arguments are the answer (written back to the judge).
IN_PLACE: list[str] = []


def double(x: Tensor) -> Tensor:
    return x * 2
'''

PUBLIC = '''"""Exercise {n} - {title}: public tests (these ship to students)."""

import torch

from grader.judge import checks
from grader.judge.expectations import answers

ref = answers("{module}")  # the reference, or its recorded answers in a release


def test_double_matches_the_reference(student, device, seed):
    """double returns twice its input"""
    x = torch.randn(5, generator=torch.Generator().manual_seed(seed)).to(device)
    checks.close(student.double(x), ref.double(x), "double(x)")
'''

HIDDEN = '''"""Exercise {n} - {title}: hidden tests (never shipped; grade-time seed inputs)."""

import pytest
import torch

from grader.judge import checks
from grader.judge.expectations import answers

ref = answers("{module}")


@pytest.mark.points(2)
def test_double_on_random_shapes(student, device, seed):
    """double works on tensors of any shape"""
    gen = torch.Generator().manual_seed(seed)
    shape = tuple(int(d) for d in torch.randint(1, 6, (3,), generator=gen))
    x = torch.randn(shape, generator=gen, dtype=torch.float64).to(device)
    checks.close(student.double(x), ref.double(x), "double(x)")
'''


def _files(root: Path, module: str) -> dict[Path, str]:
    return {
        root / "solutions" / f"{module}.py": SOLUTION,
        root / "reference" / f"{module}.py": REFERENCE,
        root / "grader" / "suites" / "public" / f"test_{module}.py": PUBLIC,
        root / "grader" / "suites" / "hidden" / f"test_{module}.py": HIDDEN,
    }


def scaffold(root: Path, number: int, slug: str, title: str | None = None) -> list[Path]:
    """Write a new exercise's files under ``root``; returns them (stub and notebook excluded,
    which ``grade stubs`` makes). Refuses a taken number or slug and any existing file."""
    if not 1 <= number <= 99:
        raise GraderError(f"the exercise number must be 1 to 99, not {number}")
    if not SLUG.match(slug) or keyword.iskeyword(slug):
        raise GraderError(
            f"{slug!r} is not a usable slug: lowercase letters, digits and underscores, "
            "starting with a letter (e.g. batch_norm)"
        )
    module = f"ex{number:02d}_{slug}"
    taken = sorted(p.name for p in (root / "reference").glob(f"ex{number:02d}_*.py"))
    if taken:
        raise GraderError(f"exercise {number} exists already ({', '.join(taken)})")
    title = title or slug.replace("_", " ").capitalize()
    values = {
        "n": number,
        "module": module,
        "title": title,
        "title_lower": title[0].lower() + title[1:],
    }
    files = _files(root, module)
    existing = [str(p) for p in files if p.exists()]
    if existing:
        raise GraderError(f"refusing to overwrite {', '.join(existing)}")
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return list(files)
