"""``grade release``: the student repository holds no answer, installs, grades, and updates in
place without losing what it did not write."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.instructor import release, stubs
from grader.judge import exercises, expectations
from tests.conftest import grade

EX3 = "ex03_gradient_clipping"


def _release(out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["release", str(out), "-e", "3", *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def student_repo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "student"
    code, output = _release(out)
    assert code == 0, output
    return out


def _files(tree: Path) -> dict[str, str]:
    """Every text file of ``tree`` (the recorded answers are binary: their path maps to "")."""
    return {
        str(p.relative_to(tree)): "" if p.suffix == ".expect" else p.read_text(encoding="utf-8")
        for p in sorted(tree.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(tree).parts
    }


def test_release_holds_exercises_public_tests_recorded_answers_and_student_files(
    student_repo, root
):
    files = _files(student_repo)
    for expected in (
        f"exercises/{EX3}.py",
        f"exercises/{EX3}.ipynb",
        f"grader/suites/public/test_{EX3}.py",
        f"grader/suites/expected/{EX3}.expect",
        "grader/suites/expected/exercises.json",
        "grader/suites/pytest.ini",
        ".trainloop/manifest.json",
        "README.md",
        "pyproject.toml",
        ".gitignore",
    ):
        assert expected in files, expected
    assert files[f"exercises/{EX3}.py"] == (root / "exercises" / f"{EX3}.py").read_text()
    if (root / ".github/workflows/classroom.yml").is_file():
        assert ".github/workflows/classroom.yml" in files
    readme = files["README.md"]
    assert "uv sync" in readme and "uv run grade exercise-3" in readme
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in readme
    assert "pip install -e ." in readme and "{{" not in readme
    import tomllib

    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["scripts"]["grade"] == "grader.cli:main"
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["grader*"]
    assert "expected/*" in project["tool"]["setuptools"]["package-data"]["grader.suites"]
    assert project["tool"]["uv"]["index"][0]["url"] == "https://download.pytorch.org/whl/cpu"
    index = json.loads(files["grader/suites/expected/exercises.json"])
    (ex,) = index["exercises"]
    assert ex["number"] == 3 and ex["title"] and ex["forbidden"]


def test_manifest_lists_every_file_with_its_hash_and_protection(student_repo):
    data = json.loads((student_repo / ".trainloop/manifest.json").read_text())
    assert set(data) == {"format", "grader_version", "created", "files"}
    assert data["format"] == 1 and isinstance(data["grader_version"], str)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", data["created"])
    on_disk = set(_files(student_repo)) - {".trainloop/manifest.json"}
    assert set(data["files"]) == on_disk
    for rel, entry in data["files"].items():
        assert set(entry) == {"sha256", "protected"}
        assert entry["sha256"] == release._sha256(student_repo / rel), rel
        students_edit = rel.startswith("exercises/") or rel in ("README.md", ".gitignore")
        assert entry["protected"] is not students_edit, rel


def test_release_has_no_answer_hidden_test_or_instructor_code(student_repo, root):
    files = _files(student_repo)
    leaked = [
        f
        for f in files
        if re.search(r"hidden|solutions?/|instructor|^reference/|regrade|platforms/commands", f)
    ]
    assert not leaked
    hidden_only = set()
    for suite in (root / "grader/suites/hidden").glob("test_*.py"):
        public = root / "grader/suites/public" / suite.name
        public_names = set(re.findall(r"def (test_\w+)", public.read_text()))
        hidden_only |= set(re.findall(r"def (test_\w+)", suite.read_text())) - public_names
    assert hidden_only, "the hidden suites should have tests of their own"
    solution = (root / "solutions" / f"{EX3}.py").read_text()
    answers = [
        "\n".join(solution.splitlines()[r.begin : r.end - 1]) for r in stubs.regions(solution, "")
    ]
    for name, text in files.items():
        assert "BEGIN SOLUTION" not in text, name
        assert not [t for t in hidden_only if f"def {t}(" in text], name
        assert not [a for a in answers if a.strip() and a in text], name
        assert not re.search(r"^(from|import) reference\b", text, re.M), name
    assert "def central_difference" not in files["grader/judge/gradcheck.py"]
    assert release.audit(student_repo, root) == []


def test_recorded_answers_are_data_not_pickles(student_repo):
    raw = (student_repo / f"grader/suites/expected/{EX3}.expect").read_bytes()
    assert b"\x80\x04" not in raw[:2] and b"pickle" not in raw
    store = expectations.load(student_repo / f"grader/suites/expected/{EX3}.expect")
    assert store.module == EX3 and store.entries() > 0
    assert all(test.startswith(f"public/test_{EX3}.py::") for test in store.tests)


@pytest.mark.slow
def test_audit_catches_a_planted_hidden_suite_and_solution_line(student_repo, root, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(student_repo, copy)
    hidden = root / "grader/suites/hidden" / f"test_{EX3}.py"
    shutil.copy(hidden, copy / "grader" / "suites" / "public" / "test_extra.py")
    solution = (root / "solutions" / f"{EX3}.py").read_text().splitlines()
    region = stubs.regions("\n".join(solution), "")[0]
    secret = max(solution[region.begin : region.end - 1], key=len).strip()
    with open(copy / "README.md", "a") as f:
        f.write(f"\n{secret}\n")
    (copy / "reference").mkdir()
    (copy / "reference" / f"{EX3}.py").write_text("TITLE = 'x'\n")
    planted = "from grader.regrade import engine\ntry:\n    import reference\nexcept ImportError:\n"
    planted += "    pass\n"  # an import that may fail is the module's own business
    (copy / "grader" / "judge" / "planted.py").write_text(planted)
    problems = release.audit(copy, root)
    assert any(
        p.startswith("grader/suites/public/test_extra.py: contains 'def test_") for p in problems
    )
    assert any(p.startswith("README.md: contains") and "solutions/" in p for p in problems)
    assert f"reference/{EX3}.py: instructor-only path" in problems
    assert [p for p in problems if p.startswith("grader/judge/planted.py")] == [
        "grader/judge/planted.py: imports grader.regrade when loaded, which a release does not have"
    ]


@pytest.mark.slow
def test_audit_names_the_file_and_function_of_a_renamed_solution(student_repo, root, tmp_path):
    """A solution function copied under other names, with other literals and layout, is an
    answer: the audit compares syntax trees, not text."""
    copy = tmp_path / "copy"
    shutil.copytree(student_repo, copy)
    helper = copy / "grader" / "judge" / "helpers.py"
    helper.write_text(_disguised_clip_grad_norm(root))
    problems = release.audit(copy, root)
    assert any(
        p.startswith("grader/judge/helpers.py: function scale_all")
        and f"solutions/{EX3}.py" in p
        and "clip_grad_norm" in p
        for p in problems
    ), problems


def _disguised_clip_grad_norm(root: Path) -> str:
    """The solution's clip_grad_norm with every name changed and numbers nudged."""
    tree = ast.parse((root / "solutions" / f"{EX3}.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "clip_grad_norm")
    names = {}

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node):
            node.id = names.setdefault(node.id, f"n{len(names)}")
            return node

        def visit_arg(self, node):
            node.arg = names.setdefault(node.arg, f"n{len(names)}")
            node.annotation = None
            return node

        def visit_Constant(self, node):
            if isinstance(node.value, float):
                node.value = node.value * 1.5
            return node

    fn = Rename().visit(fn)
    fn.name, fn.returns = "scale_all", None
    return ast.unparse(ast.Module(body=[fn], type_ignores=[])) + "\n"


def test_release_refuses_to_write_into_a_folder_it_did_not_build(tmp_path, student_repo):
    (tmp_path / "notes.txt").write_text("mine")
    code, output = _release(tmp_path, "--force")
    assert code == 2
    assert "was not built by `grade release`" in output
    assert (tmp_path / "notes.txt").read_text() == "mine"
    code, output = _release(student_repo)
    assert code == 2 and "pass --force" in output


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.slow
def test_re_release_updates_in_place_keeping_git_venv_and_student_files(student_repo, tmp_path):
    """What `grade release --force` used to delete survives: the instructor's .git and .venv,
    a student's extra file. Files of the previous release that are gone are removed; a file
    it would overwrite with uncommitted changes stops it (exit 2, listed)."""
    out = tmp_path / "student"
    shutil.copytree(student_repo, out)
    stale = "grader/worker/scenarios/ex03_old_helper.py"  # in the previous manifest only
    (out / stale).write_text("OLD = 1\n")
    data = json.loads((out / ".trainloop/manifest.json").read_text())
    data["files"][stale] = {"sha256": release._sha256(out / stale), "protected": True}
    (out / ".trainloop/manifest.json").write_text(json.dumps(data))
    _git(out, "init", "-q")
    _git(out, "add", "-A")
    _git(out, "commit", "-q", "-m", "Exercises")
    (out / ".venv" / "bin").mkdir(parents=True)
    (out / ".venv" / "bin" / "python").write_text("#!/bin/sh\n")
    (out / "my_notes.md").write_text("ideas for exercise 3\n")
    readme = out / "README.md"
    readme.write_text(readme.read_text() + "\nlocal edit\n")  # uncommitted

    code, output = _release(out, "--force")
    assert code == 2, output
    assert "uncommitted changes" in output and "README.md" in output
    assert (out / stale).is_file() and "local edit" in readme.read_text()  # nothing changed

    _git(out, "commit", "-q", "-am", "Edit the README")
    code, output = _release(out, "--force")
    assert code == 0, output
    assert (out / ".git" / "HEAD").is_file() and "Edit the README" in _git(out, "log")
    assert (out / ".venv" / "bin" / "python").is_file()
    assert (out / "my_notes.md").read_text() == "ideas for exercise 3\n"
    assert not (out / stale).exists() and "removed 1 file" in output
    assert "local edit" not in readme.read_text()  # its own file, restored (git has the edit)
    manifest = json.loads((out / ".trainloop/manifest.json").read_text())
    assert "my_notes.md" not in manifest["files"] and stale not in manifest["files"]
    status = _git(out, "status", "--porcelain")
    assert set(re.findall(r"^.. (.+)$", status, re.M)) <= {
        "README.md",
        ".trainloop/manifest.json",
        stale,
        "my_notes.md",
        ".venv/",
    }


def _fresh_venv(where: Path) -> Path:
    """A virtual environment that sees the system's torch but not this checkout's grader.

    ``--system-site-packages`` would also load the editable install of this repository (its
    import hook would serve ``grader.instructor`` to the release), so the system site-packages
    folder is added as a plain path instead: torch, pip and setuptools come from there, no
    network is needed, and ``.pth`` hooks in it stay inactive.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    purelib = sysconfig.get_path("purelib", vars={"base": str(where), "platbase": str(where)})
    Path(purelib).mkdir(parents=True, exist_ok=True)
    paths = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "_system_site.pth").write_text("\n".join(paths) + "\n")
    return where / ("Scripts" if os.name == "nt" else "bin")


def install(release_dir: Path, venv: Path, cwd: Path) -> Path:
    """Install ``release_dir`` (not editable, as the classroom workflow does) into a fresh venv
    at ``venv``; returns its bin folder. pip builds in a copy (it writes build/ and .egg-info
    next to the sources), so the release stays as `grade release` wrote it."""
    bin_dir = _fresh_venv(venv)
    python = bin_dir / "python"
    source = cwd / "pip-source"
    shutil.copytree(release_dir, source)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         str(source)],
        check=True, cwd=cwd, capture_output=True,
    )  # fmt: skip
    where = subprocess.run(
        [str(python), "-c", "import grader; print(grader.__file__)"],
        cwd=cwd, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert str(venv) in where  # the installed copy, not this checkout
    return bin_dir


def grade_in(bin_dir: Path, cwd: Path, *args: str) -> tuple[int, dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    proc = subprocess.run(
        [str(bin_dir / "grade"), *args, "--json", "card.json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    card = json.loads((cwd / "card.json").read_text())
    return proc.returncode, card, proc.stdout + proc.stderr


@pytest.fixture
def venv_home() -> Iterator[Path]:
    """A folder for the venv outside /tmp: the bwrap sandbox mounts an empty /tmp over the
    real one, so an interpreter installed under /tmp could not start there (students keep
    their venv in their repository, under their home)."""
    base = Path.home() / ".cache" / "trainloop-grader-tests"
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=base))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_release_installs_in_a_fresh_venv_with_a_student_sized_cli(
    student_repo, root, tmp_path, venv_home
):
    bin_dir = install(student_repo, venv_home / "venv", tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    helptext = subprocess.run(
        [str(bin_dir / "grade"), "--help"], capture_output=True, text=True, cwd=tmp_path, env=env
    ).stdout
    commands = set(re.findall(r"^  (\S+)  ", helptext.split("Commands:")[1], re.M))
    assert commands == {"all", "list", "schema"}, helptext
    listed = subprocess.run(
        [str(bin_dir / "grade"), "list"], capture_output=True, text=True, cwd=tmp_path, env=env
    ).stdout
    assert re.search(r"exercise-3\s+.+\s+\d+ public points", listed), listed
    assert "hidden tests" in listed

    work = tmp_path / "work"
    shutil.copytree(student_repo, work)
    code, card, out = grade_in(bin_dir, work, "exercise-3", "--device", "cpu")
    assert code == 1, out
    assert card["score"] == 0 and card["max_score"] > 0
    assert {t["visibility"] for t in card["tests"]} == {"public"}
    graded = [t for t in card["tests"] if t["status"] != "skipped"]
    assert graded and all("not implemented yet" in t["message"] for t in graded), out

    shutil.copy(root / "solutions" / f"{EX3}.py", work / "exercises" / f"{EX3}.py")
    code, card, out = grade_in(bin_dir, work, "exercise-3", "--device", "cpu")
    assert code == 0, out
    assert card["score"] == card["max_score"] > 0


# -- the release of this whole repository ------------------------------------------------------
@pytest.fixture(scope="module")
def full_release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "student"
    result = CliRunner().invoke(main, ["release", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_the_release_of_this_repository_grades_solutions_full_and_stubs_zero(
    full_release, root, tmp_path, venv_home
):
    """In a fresh venv with nothing but the release installed (no reference/ anywhere)."""
    assert not (full_release / "reference").exists()
    bin_dir = install(full_release, venv_home / "venv", tmp_path)
    work = tmp_path / "work"
    shutil.copytree(full_release, work)
    code, bundle, out = grade_in(bin_dir, work, "all", "--device", "cpu")
    assert code == 1, out
    assert len(bundle["exercises"]) == len(list((root / "solutions").glob("ex*.py")))
    for card in bundle["exercises"]:
        assert card["score"] == 0 and card["max_score"] > 0, card["exercise"]
        graded = [t for t in card["tests"] if t["status"] != "skipped"]
        assert graded and all("not implemented" in t["message"] for t in graded), card

    for solution in (root / "solutions").glob("ex*.py"):
        shutil.copy(solution, work / "exercises" / solution.name)
    code, bundle, out = grade_in(bin_dir, work, "all", "--device", "cpu")
    assert code == 0, out
    for card in bundle["exercises"]:
        assert card["score"] == card["max_score"] > 0, (card["exercise"], out)
        assert {t["visibility"] for t in card["tests"]} == {"public"}


def _student_api(stub: Path) -> set[str]:
    tree = ast.parse(stub.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)} - {"main"}


@pytest.mark.slow
def test_copying_any_release_file_into_a_submission_earns_nothing(full_release, root, tmp_path):
    """Every file of the release that defines a name an exercise asks for, graded as that
    exercise (public and hidden tests, in the instructor's checkout), scores what the stub
    scores: nothing. (Before, reference/ex06_training_loop.py shipped and scored 50/50.)"""
    candidates = []
    for ex in exercises.all_exercises():
        api = _student_api(root / "exercises" / f"{ex.module}.py")
        for path in sorted(full_release.rglob("*.py")):
            rel = path.relative_to(full_release)
            if rel.parts[0] == "exercises":
                continue  # the stubs themselves: what "before" means
            defined = {
                n.name
                for n in ast.parse(path.read_text()).body
                if isinstance(n, ast.FunctionDef | ast.ClassDef)
            }
            if defined & api:
                candidates.append((ex, rel))
    assert candidates, "expected the worker's scenario modules to share some names"
    for i, (ex, rel) in enumerate(candidates):
        copy = tmp_path / str(i) / f"{ex.module}.py"
        copy.parent.mkdir()
        shutil.copy(full_release / rel, copy)
        card = grade(ex.id, copy)
        assert card.score == 0, (rel, ex.id, [t.id for t in card.tests if t.status == "passed"])
