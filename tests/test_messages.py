"""What a student reads: messages name their own functions and file, and say what a timeout
covered. Real files are graded; the assertions are on the scorecard's messages."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.judge import client, plugin
from grader.judge.scorecard import load
from tests.conftest import ROOT, grade

INTERNAL = ("scenario", "'run'", "train_epoch ", "curve_")  # names only the grader uses


def solution_with(tmp_path, module: str, name: str, edits: dict[str, str]):
    """``solutions/<module>.py`` saved as ``tmp_path/name`` with each key replaced once."""
    text = (ROOT / "solutions" / f"{module}.py").read_text(encoding="utf-8")
    for old, new in edits.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_no_internal_names(message: str) -> None:
    assert not any(word in message for word in INTERNAL), message


@pytest.mark.slow
def test_a_scenario_failure_names_the_students_function():
    """The training-loop stub: the grader's scenario is `train_epoch`, the student's function
    `train_one_epoch`."""
    card = grade("exercise-6", ROOT / "exercises", select="one_epoch_matches", public_only=True)
    (test,) = [t for t in card.tests if t.status == "failed"]
    assert test.message == "train_one_epoch is not implemented yet (it raised NotImplementedError)"


@pytest.mark.slow
def test_errors_name_the_students_class_and_their_own_file(tmp_path):
    """Exercise 9 runs every class through one scenario, `run`: a crash names the class, a
    missing class names the student's file (not the grader's copy, ex09_custom_functions.py)."""
    path = solution_with(
        tmp_path,
        "ex09_custom_functions",
        "my_functions.py",
        {
            "    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:\n": (
                "    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:\n"
                '        raise ValueError("boom")\n'
            ),
            "class SiLUFunction(": "class SiluFunction(",
        },
    )
    card = grade("exercise-9", path, select="linear_forward or silu", public_only=True)
    messages = [t.message for t in card.tests if t.status == "failed"]
    crashed = [m for m in messages if "ValueError" in m]
    missing = [m for m in messages if "has no" in m]
    assert crashed and all(m.startswith("LinearFunction raised ValueError: boom") for m in crashed)
    assert missing and all(
        m.startswith("your file my_functions.py has no SiLUFunction") for m in missing
    )
    for m in messages:
        assert_no_internal_names(m)
        assert "ex09_custom_functions.py" not in m


def test_an_import_error_names_the_students_file(tmp_path):
    path = tmp_path / "mywork.py"
    path.write_text("import torch\n\nratio = 1 / 0\n", encoding="utf-8")
    card = grade("exercise-3", path, select="worked_example", public_only=True)
    assert card.tests and all(
        t.message.startswith("importing mywork.py raised ZeroDivisionError") for t in card.tests
    )


@pytest.mark.slow
def test_a_scenario_timeout_says_it_covered_every_call(tmp_path, monkeypatch):
    """Exercise 4 evaluates step_decay at hundreds of steps in one scenario: the limit is
    for all of them, and the message must not blame one call."""
    short = plugin.StudentProxy.scenario

    def one_second(self, name, **kwargs):
        return short(self, name, **{**kwargs, "timeout": 1.0})

    monkeypatch.setattr(plugin.StudentProxy, "scenario", one_second)
    signature = "def step_decay(step: int, base_lr: float, step_size: int, gamma: float) -> float:"
    path = solution_with(
        tmp_path,
        "ex04_lr_schedules",
        "ex04_lr_schedules.py",
        {signature: signature + "\n    while True:\n        pass"},
    )
    card = grade("exercise-4", path, select="step_decay_figure_8", public_only=True)
    (test,) = card.tests
    assert test.message.startswith(
        "step_decay did not finish within 1 s (the limit for all of this test's calls to "
        "step_decay together, not for one call)"
    ), test.message
    assert "did not return" not in test.message


def test_student_names_read_as_a_phrase():
    assert client.names_text(["fit"]) == "fit"
    assert client.names_text(["save_checkpoint", "load_checkpoint"]) == (
        "load_checkpoint and save_checkpoint"
    )
    assert client.names_text([]) == "your code"


def test_k_matches_the_names_the_report_shows(tmp_path):
    """`grade 3 -k Figure`: no test function is called that, but the report's titles are."""
    out = tmp_path / "out.json"
    result = CliRunner().invoke(
        main,
        ["3", "-s", str(ROOT / "solutions"), "--json", str(out), "--device", "cpu"]
        + ["--public-only", "-k", "figure"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    card = load(out)
    assert card.tests and all("Figure" in t.name for t in card.tests)
