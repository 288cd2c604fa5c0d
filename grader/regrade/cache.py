"""Finished exercise scorecards, kept so a re-run grades only what is new.

A card is stored under a key made of everything its result depends on: the exercise, the
student's files for it (names and contents), the grader (a hash of its source, suites and
references, not just the version string an instructor forgets to bump), the seed and the
options that change what is run. Same key, same card -- so re-running after an interruption,
or with late students added, grades only what changed, and ``--force`` ignores the cache.

Cards from grading *errors* (a worker that would not start, a suite that failed to load) are
never stored: the next run tries them again.
"""

from __future__ import annotations

import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path

import grader
import reference
from grader.judge.scorecard import Scorecard, write_atomic

GRADER_DIR = Path(grader.__file__).resolve().parent
REFERENCE_DIR = Path(reference.__file__).resolve().parent
# What the class pipeline itself is made of: changing a report does not change a grade.
NOT_GRADING = {"regrade", "instructor", "platforms"}


def grader_fingerprint() -> str:
    """A hash of the grading code and data (grader, suites, references and whatever they ship,
    recorded answers included) and of the environment (torch, Python).

    Computed afresh by each run (about 10 ms), never memoised: a long-lived process must not
    keep a grader's hash after its files changed."""
    digest = hashlib.sha256()
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "none"
    digest.update(f"{grader.__version__}|{torch_version}|{sys.version_info[:2]}".encode())
    named = [(("grader", *p.relative_to(GRADER_DIR).parts), p) for p in GRADER_DIR.rglob("*")]
    named += [
        (("reference", *p.relative_to(REFERENCE_DIR).parts), p) for p in REFERENCE_DIR.rglob("*")
    ]
    for parts, path in sorted(named):
        if not path.is_file() or "__pycache__" in parts or path.suffix == ".pyc":
            continue
        if parts[0] == "grader" and parts[1] in NOT_GRADING:
            continue
        digest.update("/".join(parts).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def content_hash(files: dict[str, bytes]) -> str:
    """One hash for a student's files of one exercise (their names relative to the folder)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def card_key(
    exercise: str, content: str, grader: str, seed: int, options: dict[str, object]
) -> str:
    fields = {
        "exercise": exercise,
        "content": content,
        "grader": grader,
        "seed": seed,
        "options": options,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class CardCache:
    """Scorecards on disk, one JSON file per key, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> Scorecard | None:
        path = self._path(key)
        try:
            return Scorecard.model_validate_json(path.read_bytes())
        except (OSError, ValueError):  # absent, or half-written by a killed older version
            return None

    def put(self, key: str, card: Scorecard) -> None:
        write_atomic(self._path(key), card)


def is_cacheable(card: Scorecard) -> bool:
    """Whether ``card`` is a whole result (pass or fail), not a grading error or a run cut short."""
    if getattr(card, "interrupted", False):
        return False
    return not any(t.id == "grading" and t.status == "error" for t in card.tests)
