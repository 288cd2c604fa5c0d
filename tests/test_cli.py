"""The `grade` command as users meet it: exit codes, messages, and the scorecard on disk."""

import dataclasses
import json
import os
import re
import shutil
import stat

import pytest
from click.testing import CliRunner

import grader
from grader.cli import GradeArgs, main
from grader.judge import exercises
from grader.judge.scorecard import Bundle, Scorecard, load
from tests.conftest import ROOT, SUBMISSIONS

FEW = ["--device", "cpu", "-k", "worked_example or value_clamps"]


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_solutions_pass_with_exit_0_and_a_full_scorecard(tmp_path):
    out = tmp_path / "out.json"
    result = run("exercise-3", "--submission", str(ROOT / "solutions"), "--json", str(out), *FEW)
    assert result.exit_code == 0, result.output
    card = load(out)
    assert isinstance(card, Scorecard) and card.score == card.max_score > 0
    assert "Score:" in result.output and "PASS" in result.output


@pytest.mark.parametrize("name", ["3", "ex3", "exercise3", "gradient-clipping"])
@pytest.mark.slow
def test_exercise_aliases(tmp_path, name):
    out = tmp_path / "out.json"
    result = run(name, "-s", str(ROOT / "exercises"), "--json", str(out), *FEW)
    assert result.exit_code == 1
    assert load(out).exercise == "exercise-3"
    assert "not implemented yet" in result.output


@pytest.mark.parametrize(
    "name",
    ["exercise-3", "Exercise_03", "03", "ex03", "ex_3", "gradient_clipping"]
    + ["ex03_gradient_clipping", "ex03_gradient_clipping.py"]
    + ["exercises/ex03_gradient_clipping.ipynb"],
)
def test_every_way_a_student_names_an_exercise(name):
    assert exercises.find(name).id == "exercise-3"


@pytest.mark.slow
def test_the_path_of_a_file_grades_that_file(tmp_path):
    """`grade solutions/ex03_gradient_clipping.py` grades that file, not exercises/."""
    out = tmp_path / "out.json"
    path = ROOT / "solutions" / "ex03_gradient_clipping.py"
    result = run(str(path), "--json", str(out), *FEW)
    assert result.exit_code == 0, result.output
    assert load(out).submission.path == str(path)


def test_unknown_exercise_is_a_usage_error():
    result = run("exercise-42")
    assert result.exit_code == 2
    assert "no exercise called 'exercise-42'" in result.output and "exercise-3" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_missing_submission_path_exits_2_but_still_writes_a_scorecard(tmp_path):
    out = tmp_path / "out.json"
    result = run("exercise-3", "-s", str(tmp_path / "nope"), "--json", str(out))
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output
    card = load(out)
    assert card.score == 0 and "does not exist" in (card.submission.error or "")


def test_missing_file_in_a_folder_names_the_expected_file(tmp_path):
    out = tmp_path / "out.json"
    (tmp_path / "notes.txt").write_text("")
    result = run("exercise-3", "-s", str(tmp_path), "--json", str(out), *FEW)
    assert result.exit_code == 2  # could not grade
    assert "ex03_gradient_clipping.py" in result.output
    assert load(out).score == 0


@pytest.mark.slow
def test_syntax_error_is_one_clear_message_that_stays_on_screen(tmp_path):
    """Said above the tests and again under the score, never once per test; exit 2."""
    out = tmp_path / "out.json"
    sub = SUBMISSIONS / "ex03" / "syntax_error.py"
    result = run("exercise-3", "-s", str(sub), "--json", str(out), "--device", "cpu")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert result.output.count("syntax error on line 8") == 2
    assert lines[lines.index(next(x for x in lines if x.startswith("Score:"))) + 1] == (
        "not graded: syntax_error.py has a syntax error on line 8: expected ':'"
    )
    assert sum("FAIL" in x for x in lines) == 1 and "tests: not run" in result.output
    assert "Traceback" not in result.output
    card = load(out)
    assert card.submission.error and len(card.tests) > 1


def test_a_notebook_that_will_not_load_exits_2_with_a_scorecard(tmp_path):
    out = tmp_path / "out.json"
    notebook = tmp_path / "ex03_gradient_clipping.ipynb"
    notebook.write_text("{not json", encoding="utf-8")
    result = run("3", "-s", str(notebook), "--json", str(out), *FEW)
    assert result.exit_code == 2
    assert "not graded: " in result.output and "Traceback" not in result.output
    assert load(out).submission.error


@pytest.mark.parametrize("folder", ["missing", "empty"])
def test_grade_all_without_exercise_files_exits_2_with_a_scorecard(tmp_path, folder):
    """A folder that does not exist, or holds no exercise file: one reason, said once, and
    still a bundle with every exercise at 0 of its points."""
    target = tmp_path / folder
    if folder == "empty":
        target.mkdir()
        (target / "README.md").write_text("")
    out = tmp_path / "all.json"
    result = run("all", "-s", str(target), "--json", str(out), "--device", "cpu")
    assert result.exit_code == 2
    reason = "does not exist" if folder == "missing" else "holds no exercise files"
    assert result.output.count(f"not graded: {target} {reason}") == 1
    bundle = load(out)
    assert isinstance(bundle, Bundle) and bundle.score == 0
    assert [c.exercise for c in bundle.exercises] == [e.id for e in exercises.all_exercises()]
    assert all(reason in (c.submission.error or "") for c in bundle.exercises)


def test_unwritable_scorecard_path_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("3", "-s", str(ROOT / "solutions"), "--json", str(blocker / "x.json"), *FEW)
    assert result.exit_code == 2 and "cannot write the scorecard" in result.output


@pytest.mark.slow
def test_scorecard_is_replaced_atomically_readable_and_never_through_a_link(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    out = tmp_path / "out.json"
    out.symlink_to(target)  # planted: the scorecard must replace the link, not write through it
    run("3", "-s", str(ROOT / "solutions"), "--json", str(out), *FEW)
    assert not out.is_symlink() and json.loads(out.read_text())["kind"] == "exercise"
    assert target.read_text() == "keep me"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o644  # it holds no secret
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.txt", "out.json"]


@pytest.mark.slow
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
    # the other exercises have no file there: they could not be graded
    assert result.exit_code == (2 if others else 0)
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


def test_grade_exercise_and_grade_all_share_one_set_of_options():
    """Both commands' options are GradeArgs' fields: defined once, so they cannot drift."""
    fields = [f.name for f in dataclasses.fields(GradeArgs)]
    for name in ("3", "all"):
        command = main.get_command(None, name)  # type: ignore[arg-type]
        assert [p.name for p in command.params] == fields


def test_the_version_is_written_once():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert not re.search(r"^version\s*=\s*\"", pyproject, re.MULTILINE)  # no literal
    assert 'dynamic = ["version"]' in pyproject and "grader.__version__" in pyproject
    assert run("--version").output.strip().endswith(grader.__version__)


@pytest.mark.slow
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
