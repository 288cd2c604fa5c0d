"""The `grade` command as users meet it: exit codes, messages, and the scorecard on disk."""

import json
import shutil

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.judge.scorecard import Bundle, Scorecard, load
from tests.conftest import ROOT, SUBMISSIONS

FEW = ["--device", "cpu", "-k", "worked_example or value_clamps"]


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_solutions_pass_with_exit_0_and_a_full_scorecard(tmp_path):
    out = tmp_path / "out.json"
    result = run("exercise-3", "--submission", str(ROOT / "solutions"), "--json", str(out), *FEW)
    assert result.exit_code == 0, result.output
    card = load(out)
    assert isinstance(card, Scorecard) and card.score == card.max_score > 0
    assert "Score:" in result.output and "PASS" in result.output


@pytest.mark.parametrize("name", ["3", "ex03", "gradient_clipping", "gradient-clipping"])
def test_exercise_aliases(tmp_path, name):
    out = tmp_path / "out.json"
    result = run(name, "-s", str(ROOT / "exercises"), "--json", str(out), *FEW)
    assert result.exit_code == 1
    assert load(out).exercise == "exercise-3"
    assert "not implemented yet" in result.output


def test_unknown_exercise_is_a_usage_error():
    result = run("exercise-42")
    assert result.exit_code == 2
    assert "no exercise called 'exercise-42'" in result.output and "exercise-3" in result.output
    assert "Traceback" not in result.output


def test_missing_submission_path_exits_2_but_still_writes_a_scorecard(tmp_path):
    out = tmp_path / "out.json"
    result = run("exercise-3", "-s", str(tmp_path / "nope"), "--json", str(out))
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output
    card = load(out)
    assert card.score == 0 and "does not exist" in (card.submission.error or "")


def test_missing_file_in_a_folder_names_the_expected_file(tmp_path):
    out = tmp_path / "out.json"
    result = run("exercise-3", "-s", str(tmp_path), "--json", str(out), *FEW)
    assert result.exit_code == 1
    assert "ex03_gradient_clipping.py" in result.output
    assert load(out).score == 0


def test_syntax_error_is_one_clear_message(tmp_path):
    out = tmp_path / "out.json"
    sub = SUBMISSIONS / "ex03" / "syntax_error.py"
    result = run("exercise-3", "-s", str(sub), "--json", str(out), *FEW)
    assert result.exit_code == 1
    assert result.output.count("syntax error on line 8") == 1  # once, not once per test
    assert "Traceback" not in result.output
    assert load(out).submission.error


def test_unwritable_scorecard_path_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("3", "-s", str(ROOT / "solutions"), "--json", str(blocker / "x.json"), *FEW)
    assert result.exit_code == 2 and "cannot write the scorecard" in result.output


def test_scorecard_is_replaced_atomically(tmp_path):
    out = tmp_path / "out.json"
    out.write_text("old")
    run("3", "-s", str(ROOT / "solutions"), "--json", str(out), *FEW)
    assert json.loads(out.read_text())["kind"] == "exercise"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left


def test_grade_all_writes_one_bundle_with_a_grand_total(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copy(ROOT / "solutions" / "ex03_gradient_clipping.py", folder)
    out = tmp_path / "all.json"
    result = run("all", "-s", str(folder), "--json", str(out), "--device", "cpu", "--public-only")
    bundle = load(out)
    assert isinstance(bundle, Bundle)
    ex3 = next(c for c in bundle.exercises if c.exercise == "exercise-3")
    assert ex3.score == ex3.max_score > 0
    assert bundle.score == sum(c.score for c in bundle.exercises)
    others = [c for c in bundle.exercises if c.exercise != "exercise-3"]
    assert all(c.score == 0 for c in others)
    assert result.exit_code == (1 if others else 0)
    assert "Total:" in result.output


def test_list_shows_titles_and_points():
    result = run("list")
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if x.startswith("exercise-3 "))
    assert "Gradient clipping" in line and "points" in line


def test_schema_describes_both_scorecard_kinds():
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    text = json.dumps(schema)
    for field in ("schema_version", "isolation", "duration_s", "visibility", "sha256"):
        assert field in text
    assert "Bundle" in schema["$defs"] and "Scorecard" in schema["$defs"]


def test_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    for word in ("all", "list", "schema", "exercise-N"):
        assert word in result.output


def test_list_counts_what_a_grading_on_this_machine_can_award():
    """grade list and grading agree, test by test: CUDA-only tests count only with a GPU."""
    from grader.judge import collect, exercises
    from tests.conftest import grade

    ex = exercises.find("exercise-7")
    card = grade("exercise-7", ROOT / "exercises", public_only=True)  # the stub: quick
    listed = collect.points_by_visibility(ex)
    assert listed["public"] == card.max_score
    skipped = [t for t in card.tests if t.status == "skipped"]
    assert all(t.max_score == 0 for t in skipped)
