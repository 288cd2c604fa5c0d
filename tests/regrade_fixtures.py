"""Building synthetic classes for the `grade class` tests: folders and git repositories."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from tests.conftest import ROOT, SUBMISSIONS

EX03 = "ex03_gradient_clipping.py"
SOLUTION = ROOT / "solutions" / EX03
STUB = ROOT / "exercises" / EX03
BUGGY = SUBMISSIONS / "ex03" / "no_epsilon.py"
HOSTILE = SUBMISSIONS / "ex03" / "exit_at_import.py"
INDEPENDENT = SUBMISSIONS / "regrade" / "ex03_independent.py"
WORKFLOW = ".github/workflows/classroom.yml"
RELEASE_FILES = {
    WORKFLOW: "name: Autograding Tests\non: [push]\njobs: {}\n",
    "pyproject.toml": '[project]\nname = "student"\n',
}
BEFORE, DEADLINE, AFTER = (
    "2026-01-01T10:00:00+00:00",
    "2026-01-02T00:00:00Z",
    "2026-01-03T10:00:00+00:00",
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def git(repo: Path, *args: str, when: str = BEFORE) -> str:
    env = {
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_DATE": when,
        "GIT_AUTHOR_NAME": "s",
        "GIT_AUTHOR_EMAIL": "s@example.org",
        "GIT_COMMITTER_NAME": "s",
        "GIT_COMMITTER_EMAIL": "s@example.org",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(repo),
    }
    done = subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str], when: str) -> str:
    """Write ``files`` into ``repo`` (created when new) and commit them at ``when``."""
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        git(repo, "init", "-q", "-b", "main")
    for rel, text in files.items():
        write(repo / rel, text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"work at {when}", when=when)
    return git(repo, "rev-parse", "HEAD")


def release(answer: str, *, layout: str = "exercises") -> dict[str, str]:
    """A student's repository files: the release's protected files and one exercise-3 answer."""
    where = f"{layout}/{EX03}" if layout else EX03
    return {**RELEASE_FILES, where: answer}


def manifest(path: Path) -> Path:
    files = {
        rel: {"sha256": hashlib.sha256(text.encode()).hexdigest(), "protected": True}
        for rel, text in RELEASE_FILES.items()
    }
    files[f"exercises/{EX03}"] = {"sha256": "0" * 64, "protected": False}
    data = {"format": 1, "grader_version": "0.1.0", "created": BEFORE, "files": files}
    return write(path, json.dumps(data))


def renamed_copy(source: str) -> str:
    """What a copier does: new names, new comments, same code."""
    text = source.replace("grads", "my_gradients").replace("total", "overall")
    return text.replace("# BEGIN SOLUTION", "# my work").replace("first_device", "dev0")
