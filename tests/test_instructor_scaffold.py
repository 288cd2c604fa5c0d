"""`grade new NN slug` writes an exercise that works end to end at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.instructor import scaffold
from grader.judge.failures import GraderError
from tests.conftest import ROOT


def copy_of_the_course(tmp: Path) -> Path:
    """A checkout with everything a `grade` run needs, in a temporary folder."""
    for name in ("grader", "reference", "solutions", "exercises", "pyproject.toml"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, tmp / name)
    return tmp


def grade(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], cwd=root, capture_output=True, text=True,
        timeout=600, env=env,
    )  # fmt: skip


@pytest.mark.slow
def test_a_new_exercise_passes_verify_straight_away(tmp_path):
    root = copy_of_the_course(tmp_path)
    done = grade(root, "new", "11", "batch_norm", "--title", "Batch normalization")
    assert done.returncode == 0, done.stderr
    for rel in (
        "solutions/ex11_batch_norm.py",
        "reference/ex11_batch_norm.py",
        "grader/suites/public/test_ex11_batch_norm.py",
        "grader/suites/hidden/test_ex11_batch_norm.py",
        "exercises/ex11_batch_norm.py",
        "exercises/ex11_batch_norm.ipynb",
    ):
        assert (root / rel).is_file(), rel
    stub = (root / "exercises" / "ex11_batch_norm.py").read_text()
    assert 'raise NotImplementedError("exercise-11: write double")' in stub
    listed = grade(root, "list")
    assert "exercise-11  Batch normalization" in listed.stdout, listed.stdout
    verified = grade(root, "verify", "-e", "11", "--isolation", "process")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_taken_number_an_odd_slug_and_existing_files_are_refused(tmp_path):
    root = tmp_path
    (root / "reference").mkdir()
    (root / "reference" / "ex03_gradient_clipping.py").write_text("")
    with pytest.raises(GraderError, match="exercise 3 exists already"):
        scaffold.scaffold(root, 3, "other")
    with pytest.raises(GraderError, match="not a usable slug"):
        scaffold.scaffold(root, 12, "Bad-Slug")
    (root / "solutions").mkdir()
    (root / "solutions" / "ex12_fine.py").write_text("mine")
    with pytest.raises(GraderError, match="refusing to overwrite"):
        scaffold.scaffold(root, 12, "fine")
    assert (root / "solutions" / "ex12_fine.py").read_text() == "mine"
