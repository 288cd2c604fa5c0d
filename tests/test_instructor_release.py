"""``grade release``: the student repository leaks nothing, installs, and grades."""

from __future__ import annotations

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

EX3 = "ex03_gradient_clipping"


@pytest.fixture(scope="module")
def student_repo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "student"
    result = CliRunner().invoke(main, ["release", str(out), "-e", "3"])
    assert result.exit_code == 0, result.output
    return out


def _files(tree: Path) -> dict[str, str]:
    return {
        str(p.relative_to(tree)): p.read_text(encoding="utf-8")
        for p in sorted(tree.rglob("*"))
        if p.is_file()
    }


def test_release_holds_exercises_public_tests_and_student_files(student_repo, root):
    files = _files(student_repo)
    for expected in (
        f"exercises/{EX3}.py",
        f"exercises/{EX3}.ipynb",
        f"grader/suites/public/test_{EX3}.py",
        "grader/suites/pytest.ini",
        f"reference/{EX3}.py",
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
    assert project["tool"]["uv"]["index"][0]["url"] == "https://download.pytorch.org/whl/cpu"


def test_release_has_no_hidden_test_solution_or_instructor_code(student_repo, root):
    files = _files(student_repo)
    assert not [f for f in files if re.search(r"hidden|solutions?/|instructor", f)]
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
    assert release.audit(student_repo, root) == []


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
    problems = release.audit(copy, root)
    assert any(
        p.startswith("grader/suites/public/test_extra.py: contains 'def test_") for p in problems
    )
    assert any(p.startswith("README.md: contains") and "solutions/" in p for p in problems)


def test_release_refuses_to_overwrite_a_folder_it_did_not_build(tmp_path, student_repo):
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(main, ["release", str(tmp_path), "-e", "3", "--force"])
    assert result.exit_code == 2
    assert "was not built by `grade release`" in result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"
    again = CliRunner().invoke(main, ["release", str(student_repo), "-e", "3"])
    assert again.exit_code == 2 and "pass --force" in again.output


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


def _grade(bin_dir: Path, cwd: Path, *args: str) -> tuple[int, dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    proc = subprocess.run(
        [str(bin_dir / "grade"), *args, "--json", "card.json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
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
def test_release_installs_in_a_fresh_venv_and_grades_public_tests(
    student_repo, root, tmp_path, venv_home
):
    bin_dir = _fresh_venv(venv_home / "venv")
    python = bin_dir / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         str(student_repo)],
        check=True, cwd=tmp_path, capture_output=True,
    )  # fmt: skip
    where = subprocess.run(
        [str(python), "-c", "import grader; print(grader.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert str(venv_home / "venv") in where  # the installed copy, not this checkout
    helptext = subprocess.run(
        [str(bin_dir / "grade"), "--help"], capture_output=True, text=True, cwd=tmp_path
    ).stdout
    assert "list" in helptext and not re.search(r"\b(verify|release|stubs)\b", helptext)

    work = tmp_path / "work"
    shutil.copytree(student_repo, work)
    code, card, out = _grade(bin_dir, work, "exercise-3", "--device", "cpu")
    assert code == 1, out
    assert card["score"] == 0 and card["max_score"] > 0
    assert {t["visibility"] for t in card["tests"]} == {"public"}
    graded = [t for t in card["tests"] if t["status"] != "skipped"]
    assert graded and all("not implemented yet" in t["message"] for t in graded), out

    shutil.copy(root / "solutions" / f"{EX3}.py", work / "exercises" / f"{EX3}.py")
    code, card, out = _grade(bin_dir, work, "exercise-3", "--device", "cpu")
    assert code == 0, out
    assert card["score"] == card["max_score"] > 0
