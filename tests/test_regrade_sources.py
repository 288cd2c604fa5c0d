"""`grade class` input: rosters, finding each student's files, commits by deadline, bad input.

No grading happens here: these run in well under a second each.
"""

import json
import os

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.judge import exercises
from grader.judge.failures import GraderError
from grader.regrade import locate, roster, sources
from tests.regrade_fixtures import (
    AFTER,
    BEFORE,
    BUGGY,
    DEADLINE,
    EX03,
    SOLUTION,
    commit,
    git,
    release,
    write,
)

EX3 = [exercises.find("3")]


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_folder_roster_has_one_student_per_folder(tmp_path):
    for name in ("bob", "alice", ".hidden", "_skip"):
        (tmp_path / name).mkdir()
    write(tmp_path / "notes.txt", "not a student")
    assert [e.student for e in roster.load(tmp_path)] == ["alice", "bob"]


def test_a_csv_roster_resolves_paths_next_to_it_and_keeps_urls_and_refs(tmp_path):
    csv = write(
        tmp_path / "class.csv",
        "Student,Repo,Ref\nann,repos/ann,\nben,https://example.org/ben.git,v1\n\n",
    )
    ann, ben = roster.load(csv)
    assert ann.repo == str(tmp_path / "repos" / "ann") and ann.ref is None and not ann.is_url
    assert ben.is_url and ben.ref == "v1"


@pytest.mark.parametrize(
    "text, message",
    [
        ("name,url\nann,x\n", "needs a header row with the columns student,repo"),
        ("student,repo\nann,\n", "line 2: both student and repo are needed"),
        ("student,repo\nann b,x\nann/b,y\n", "would share the file name"),
    ],
)
def test_a_bad_csv_is_one_clear_message(tmp_path, text, message):
    with pytest.raises(GraderError, match=message):
        roster.load(write(tmp_path / "class.csv", text))


def test_pointing_at_one_repository_instead_of_the_class_says_so(tmp_path):
    write(tmp_path / "exercises" / EX03, "x = 1\n")
    with pytest.raises(GraderError, match="looks like one student's repository"):
        roster.load(tmp_path)


@pytest.mark.parametrize(
    "files, folder",
    [
        ({f"exercises/{EX03}": 1, "README.md": 1}, "exercises"),
        ({EX03: 1, "README.md": 1}, ""),
        ({f"repo-main/exercises/{EX03}": 1, "repo-main/README.md": 1}, "repo-main/exercises"),
        ({"README.md": 1, "src/ex03.py": 1}, None),
    ],
)
def test_files_are_found_where_grade_all_looks(files, folder):
    found = locate.locate(files, EX3)
    assert found.folder == folder
    if folder is not None:
        assert found.files["exercise-3"] == [f"{folder}/{EX03}".lstrip("/")]


def test_the_deadline_picks_the_last_commit_before_it_without_touching_the_repo(tmp_path):
    repo = tmp_path / "bob"
    first = commit(repo, release(BUGGY.read_text()), BEFORE)
    commit(repo, release(SOLUTION.read_text()), AFTER)
    before = (git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD"))
    index = (repo / ".git" / "index").read_bytes()
    entry = roster.Entry("bob", str(repo))
    checkout = sources.open_source(
        entry, ref=None, deadline=sources.parse_deadline(DEADLINE), mirrors=tmp_path / "m"
    )
    assert checkout.error is None and checkout.commit == first
    assert checkout.notes == ["1 commit(s) after the deadline not graded"]
    assert checkout.tree.read([f"exercises/{EX03}"])[f"exercises/{EX03}"] == BUGGY.read_bytes()
    assert (git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD")) == before
    assert (repo / ".git" / "index").read_bytes() == index
    head = sources.open_source(entry, ref=None, deadline=None, mirrors=tmp_path / "m")
    assert head.commit != first  # no deadline: HEAD


def test_nothing_before_the_deadline_is_an_error_not_a_zero(tmp_path):
    repo = tmp_path / "late"
    commit(repo, release(SOLUTION.read_text()), AFTER)
    checkout = sources.open_source(
        roster.Entry("late", str(repo)),
        ref=None,
        deadline=sources.parse_deadline(DEADLINE),
        mirrors=tmp_path / "m",
    )
    assert checkout.tree is None and "no commit of HEAD at or before the deadline" in (
        checkout.error or ""
    )


def test_a_git_url_is_mirrored_and_an_unknown_ref_is_reported(tmp_path):
    origin = tmp_path / "origin"
    sha = commit(origin, release("x = 1\n"), BEFORE)
    entry = roster.Entry("ann", f"file://{origin}")
    mirrors = tmp_path / "out" / ".repos"
    checkout = sources.open_source(entry, ref=None, deadline=None, mirrors=mirrors)
    assert checkout.commit == sha and (mirrors / "ann.git").is_dir()
    again = sources.open_source(entry, ref="nope", deadline=None, mirrors=mirrors)  # fetches
    assert again.tree is None and "has no commit 'nope'" in (again.error or "")


def test_symlinks_are_never_followed(tmp_path):
    secret = write(tmp_path / "instructor" / EX03, "the answer")
    student = tmp_path / "class" / "sly"
    (student / "exercises").mkdir(parents=True)
    os.symlink(secret, student / "exercises" / EX03)
    assert sources.FolderTree(student).files() == {}
    repo = tmp_path / "repo"
    commit(repo, {"README.md": "hi"}, BEFORE)
    os.symlink(secret, repo / EX03)
    commit(repo, {}, BEFORE)
    assert EX03 not in sources.GitTree(repo, git(repo, "rev-parse", "HEAD")).files()


@pytest.mark.parametrize(
    "args, message",
    [
        (["class", "{tmp}/nope", "--out", "{tmp}/o"], "does not exist"),
        (["class", "{tmp}/bad.csv", "--out", "{tmp}/o"], "student,repo"),
        (["class", "{tmp}/cls", "--out", "{tmp}/o", "--exercises", "42"], "no exercise called"),
        (["class", "{tmp}/cls", "--out", "{tmp}/o", "--exercises", "5-3"], "runs backwards"),
        (["class", "{tmp}/cls", "--out", "{tmp}/o", "--deadline", "friday"], "not an ISO-8601"),
        (["class", "{tmp}/cls", "--out", "{tmp}/o", "--engine", "dask"], "needs --scheduler"),
        (["class", "{tmp}/cls", "--out", "{tmp}/o", "--manifest", "{tmp}/bad.csv"], "manifest"),
        (["class", "{tmp}/cls", "--out", "{tmp}/o", "--sign-key", "{tmp}/bad.csv"], "PEM"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path, args, message):
    write(tmp_path / "bad.csv", "name,url\n")
    (tmp_path / "cls" / "ann").mkdir(parents=True)
    result = run(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o" / "gradebook.csv").exists()


def test_the_seed_is_recorded_before_grading_and_reused(tmp_path):
    from grader.regrade.classrun import STATE_FILE, class_seed

    first = class_seed(tmp_path, None)
    assert json.loads((tmp_path / STATE_FILE).read_text())["seed"] == first
    assert class_seed(tmp_path, None) == first and class_seed(tmp_path, 7) == 7
