"""Who is in the class: one entry per student, from a folder of repositories or a CSV roster.

A folder is what a classroom's "download all repositories" produces: one sub-folder (a plain
folder or a git repository) per student, named after them. A CSV roster has the columns
``student,repo[,ref]`` where ``repo`` is a path (relative to the CSV) or a git URL, and ``ref``
an optional branch, tag or commit for that student. Anything malformed is one clear
:class:`GraderError` (exit 2): a roster that silently skips a student would zero them.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from grader.judge.exercises import file_glob, parse_file_name
from grader.judge.failures import GraderError

URL = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 100


@dataclass(frozen=True)
class Entry:
    """One student: their name, where their work is (a path or a git URL), and a ref."""

    student: str
    repo: str
    ref: str | None = None

    @property
    def is_url(self) -> bool:
        return bool(URL.match(self.repo))

    @property
    def slug(self) -> str:
        """The student's name as a file name (scorecards, cache folders)."""
        return file_stem(self.student)


def file_stem(name: str) -> str:
    """``name`` with anything but letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``."""
    stem = SAFE_NAME.sub("_", name).strip("._") or "student"
    return stem[:MAX_NAME]


def load(source: Path) -> list[Entry]:
    """The class in ``source``: a folder of student folders, or a ``.csv`` roster."""
    if not source.exists():
        raise GraderError(
            f"{source} does not exist: pass a folder with one folder per student, or a CSV "
            "roster (student,repo[,ref])"
        )
    entries = _from_folder(source) if source.is_dir() else _from_csv(source)
    if not entries:
        raise GraderError(f"{source} lists no students")
    _check_unique(entries, source)
    return entries


def _looks_like_one_repository(folder: Path) -> bool:
    if (folder / "exercises").is_dir():
        return True
    return any(parse_file_name(p.name) for p in folder.glob(file_glob()))


def _from_folder(folder: Path) -> list[Entry]:
    if _looks_like_one_repository(folder):
        raise GraderError(
            f"{folder} looks like one student's repository (it has exercises in it): pass the "
            "folder that holds one folder per student, or grade it with `grade all -s`"
        )
    found = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith((".", "_")) or not child.is_dir() or child.is_symlink():
            continue
        found.append(Entry(student=child.name, repo=str(child.resolve())))
    return found


def _from_csv(path: Path) -> list[Entry]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GraderError(f"cannot read the roster {path}: {exc}") from None
    rows = csv.DictReader(text.splitlines())
    columns = [c.strip().lower() for c in (rows.fieldnames or [])]
    if "student" not in columns or "repo" not in columns:
        raise GraderError(
            f"{path} needs a header row with the columns student,repo (and optionally ref); "
            f"found: {','.join(columns) or 'nothing'}"
        )
    rows.fieldnames = columns
    found = []
    for line, row in enumerate(rows, start=2):
        student = (row.get("student") or "").strip()
        repo = (row.get("repo") or "").strip()
        ref = (row.get("ref") or "").strip() or None
        if not student and not repo:
            continue  # a blank line
        if not student or not repo:
            raise GraderError(f"{path}, line {line}: both student and repo are needed")
        entry = Entry(student=student, repo=repo, ref=ref)
        if not entry.is_url:
            repo_path = Path(repo).expanduser()
            entry = Entry(student, str((path.parent / repo_path).resolve()), ref)
        found.append(entry)
    return found


def _check_unique(entries: list[Entry], source: Path) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        other = seen.get(entry.slug.lower())
        if other is not None:
            raise GraderError(
                f"{source}: students {other!r} and {entry.student!r} would share the file name "
                f"{entry.slug!r}; rename one of them"
            )
        seen[entry.slug.lower()] = entry.student
