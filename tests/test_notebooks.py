"""Notebook submissions: read as text, definitions kept, demos counted, nothing executed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SUBMISSIONS, by_id, failing, grade

from grader.judge import exercises
from grader.judge.submission import resolve

NOTEBOOKS = SUBMISSIONS / "notebooks"
EX3 = "exercise-3"


def _resolve(path: Path):
    return resolve(exercises.find(EX3), path)


def test_definitions_are_kept_and_demos_counted_per_cell():
    sub = _resolve(NOTEBOOKS / "ex03_with_demos.ipynb")
    assert sub.error is None
    code = sub.file.read_text()
    kept = ["import torch", "EPS = 1e-6", 'INF = float("inf")', "def clip_grad_norm("]
    kept += ["def clip_grad_value(", "history = [1, 2]"]
    for text in kept:
        assert text in code
    left_out = ["print(", "NOTEBOOK_DEMO_RAN", "RuntimeError", "history.append", "SystemExit"]
    left_out += ["%time", "!pip", "matplotlib_not_installed_here", "for _ in range(1000)"]
    for text in left_out:
        assert text not in code
    skipped, missing, magics = sub.notes
    assert "11 top-level statements not run when grading (cells 2, 5, 7, 8)" in skipped
    assert "matplotlib_not_installed_here" in missing
    assert "ignored 6 IPython magic or shell lines (cells 2, 7, 8, 9)" in magics
    # the scorecard identifies the notebook the student submitted, not the converted text
    import hashlib

    data = (NOTEBOOKS / "ex03_with_demos.ipynb").read_bytes()
    assert sub.sha256 == hashlib.sha256(data).hexdigest()
    assert sub.path == NOTEBOOKS / "ex03_with_demos.ipynb"


def test_a_cell_with_a_syntax_error_is_named():
    sub = _resolve(NOTEBOOKS / "ex03_syntax_error.ipynb")
    assert sub.file is None
    assert sub.error.startswith(
        "ex03_syntax_error.ipynb: cell 4 (starting `def clip_grad_norm(parameters, max_norm)`) "
        "has a syntax error on its line 1: expected ':'"
    )
    assert "save the notebook and grade again" in sub.error


def test_broken_json_gets_a_clear_message():
    sub = _resolve(NOTEBOOKS / "ex03_truncated.ipynb")
    assert sub.file is None
    assert sub.error.startswith("ex03_truncated.ipynb is not a readable Jupyter notebook: its JSON")
    assert "Open it in Jupyter and save it again" in sub.error


@pytest.mark.parametrize(
    "content, expected",
    [
        (json.dumps([1, 2]), "is JSON but not a Jupyter notebook"),
        (json.dumps({"cells": [{"cell_type": "code", "source": 7}]}), "cell 1 has no readable"),
        (b"\xff\xfe{}", "it is not UTF-8 text"),
    ],
)
def test_other_unreadable_notebooks(tmp_path, content, expected):
    path = tmp_path / "ex03_gradient_clipping.ipynb"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert expected in _resolve(path).error


def test_old_nbformat_3_notebooks_are_read(tmp_path):
    path = tmp_path / "ex03_gradient_clipping.ipynb"
    cell = {"cell_type": "code", "input": ["X = 3\n", "print(X)"]}
    path.write_text(json.dumps({"nbformat": 3, "worksheets": [{"cells": [cell]}]}))
    sub = _resolve(path)
    assert sub.error is None and "X = 3" in sub.file.read_text()
    assert "(cell 1)" in sub.notes[0]


def test_a_folder_with_only_a_notebook_grades_the_notebook(tmp_path):
    shutil.copy(NOTEBOOKS / "ex03_with_demos.ipynb", tmp_path / "ex03_mine.ipynb")
    sub = _resolve(tmp_path)
    assert sub.error is None and sub.path == tmp_path / "ex03_mine.ipynb"
    shutil.copy(NOTEBOOKS / "ex03_with_demos.ipynb", tmp_path / "ex03_other.ipynb")
    assert "holds several notebooks for exercise-3" in _resolve(tmp_path).error


def test_a_folder_with_both_grades_the_py_and_points_to_a_more_finished_notebook(tmp_path, root):
    stub = root / "exercises" / "ex03_gradient_clipping.py"
    shutil.copy(stub, tmp_path / stub.name)
    shutil.copy(stub.with_suffix(".ipynb"), tmp_path / "ex03_gradient_clipping.ipynb")
    sub = _resolve(tmp_path)
    assert sub.path == tmp_path / stub.name and sub.notes == []  # both untouched: no noise
    shutil.copy(NOTEBOOKS / "ex03_with_demos.ipynb", tmp_path / "ex03_gradient_clipping.ipynb")
    sub = _resolve(tmp_path)
    assert sub.path == tmp_path / stub.name
    assert "has more functions written" in sub.notes[0]
    assert f"--submission {tmp_path / 'ex03_gradient_clipping.ipynb'}" in sub.notes[0]


def test_an_empty_folder_mentions_both_file_kinds(tmp_path):
    error = _resolve(tmp_path).error
    assert "ex03_gradient_clipping.py" in error and "ex03_gradient_clipping.ipynb" in error


@pytest.mark.slow
def test_graded_notebook_gets_full_marks_and_its_demos_never_run():
    # cell 5 ends with `raise RuntimeError(...)`: had it run, importing would fail every test
    card = grade(EX3, NOTEBOOKS / "ex03_with_demos.ipynb", public_only=True)
    assert not failing(card), [t.message for t in failing(card)]
    assert card.score == card.max_score > 0
    assert any("cells 2, 5, 7, 8" in note for note in card.submission.notes)
    assert card.submission.path.endswith("ex03_with_demos.ipynb")


@pytest.mark.slow
def test_generated_stub_notebook_scores_zero_saying_not_implemented(root):
    card = grade(EX3, root / "exercises" / "ex03_gradient_clipping.ipynb", public_only=True)
    assert card.score == 0 and card.max_score > 0
    tests = [t for t in by_id(card).values() if t.status != "skipped"]
    assert tests and all("not implemented yet" in t.message for t in tests)


def test_top_level_await_is_valid_in_a_notebook_and_left_out(tmp_path):
    path = tmp_path / "ex03_gradient_clipping.ipynb"
    source = "import asyncio\nawait asyncio.sleep(0)\nasync def tick() -> int:\n    return 1\n"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": source}]}))
    sub = _resolve(path)
    assert sub.error is None
    assert "async def tick()" in sub.file.read_text() and "await" not in sub.file.read_text()
    assert "1 top-level statement not run when grading (cell 1)" in sub.notes[0]
