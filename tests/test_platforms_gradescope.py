"""The Gradescope autograder end to end: build the zip, unpack it the way Gradescope does, run
``run_autograder`` against a temporary root and read ``results/results.json``."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.platforms.common import expected_points
from grader.platforms.gradescope import find_submission_root
from tests.conftest import ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow  # every test here grades end to end

# 2-point and 1-point tests, one of them hidden; process isolation because bwrap puts a fresh
# /tmp in the worker, which would hide a grader unpacked under pytest's temporary folder.
SELECT = "worked_example or empty_list or norm_type_given_as_keyword"
SUBMITTED = {
    "full": ROOT / "solutions" / "ex03_gradient_clipping.py",
    "partial": SUBMISSIONS / "platforms" / "ex03_partial.py",
    "crash": SUBMISSIONS / "platforms" / "ex03_crash.py",
}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """The zip built by ``grade gradescope-zip``, unpacked as /autograder/source."""
    work = tmp_path_factory.mktemp("gradescope")
    zipped = work / "autograder.zip"
    result = CliRunner().invoke(
        main,
        ["gradescope-zip", str(zipped), "--exercise", "exercise-3", "-k", SELECT]
        + ["--visibility", "after_published", "--isolation", "process"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(zipped) as zf:
        names = zf.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        zf.extractall(work / "source")
    assert {"setup.sh", "run_autograder"} <= set(names)
    assert any(n.endswith("grader/suites/hidden/test_ex03_gradient_clipping.py") for n in names)
    assert not any("__pycache__" in n for n in names)
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & stat.S_IXUSR
        (work / "source" / script).chmod(0o755)
    setup = (work / "source" / "setup.sh").read_text()
    cpu = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
    assert cpu in setup and "pydantic" in setup
    return work / "source"


def run_autograder(source: Path, root: Path, python: str = sys.executable) -> dict:
    shutil.copytree(source, root / "source")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": python}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads((root / "results" / "results.json").read_text())


def check_results(data: dict) -> None:
    """The fields Gradescope reads, with the types and values it accepts."""
    assert isinstance(data["score"], (int, float))
    assert isinstance(data["execution_time"], (int, float))
    assert isinstance(data["output"], str)
    assert data["visibility"] in VISIBILITY and data["stdout_visibility"] in VISIBILITY
    assert data["tests"]
    for t in data["tests"]:
        assert isinstance(t["name"], str) and isinstance(t["number"], str)
        assert 0 <= t["score"] <= t["max_score"]
        assert t["status"] in ("passed", "failed")
        assert (t["status"] == "passed") == (t["score"] == t["max_score"])
        assert isinstance(t["output"], str) and t["visibility"] in VISIBILITY
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


@pytest.mark.parametrize("which", ["full", "partial", "crash"])
def test_run_autograder_writes_results(source, tmp_path, which):
    # Gradescope puts what the student uploaded under submission/; here, a repository layout
    (tmp_path / "submission" / "exercises").mkdir(parents=True)
    shutil.copy(SUBMITTED[which], tmp_path / "submission/exercises/ex03_gradient_clipping.py")
    (tmp_path / "submission" / "README.md").write_text("my work\n")
    data = run_autograder(source, tmp_path)
    check_results(data)
    maximum = sum(t["max_score"] for t in data["tests"])
    assert maximum == 6  # 2 + 2 + 1 public, 1 hidden
    by_vis = {t["visibility"] for t in data["tests"]}
    assert by_vis == {"visible", "after_published"}  # the hidden test: the instructor's choice
    if which == "full":
        assert data["score"] == maximum
    elif which == "partial":
        assert 0 < data["score"] < maximum
        assert any("norm_type=inf" in t["output"] for t in data["tests"])
    else:
        assert data["score"] == 0
        assert all("exited" in t["output"] for t in data["tests"])


def test_results_are_written_when_python_cannot_even_start(source, tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "results.json").write_text('{"score": 1000}')  # planted
    data = run_autograder(source, tmp_path, python="false")
    check_results(data)
    assert data["score"] == 0
    # what the exercise is worth (-k is not known before grading)
    assert data["tests"][0]["max_score"] == expected_points("exercise-3") > 6
    assert "exit code 1" in data["tests"][0]["output"]


def test_submission_root_is_found(tmp_path):
    assert find_submission_root(tmp_path) == tmp_path
    (tmp_path / "repo" / "exercises").mkdir(parents=True)
    (tmp_path / "repo" / "solutions").mkdir()
    (tmp_path / "repo" / "exercises" / "ex03_gradient_clipping.py").touch()
    (tmp_path / "repo" / "solutions" / "ex03_gradient_clipping.py").touch()
    assert find_submission_root(tmp_path) == tmp_path / "repo" / "exercises"
    (tmp_path / "ex01_linear_regression.py").touch()
    assert find_submission_root(tmp_path) == tmp_path
