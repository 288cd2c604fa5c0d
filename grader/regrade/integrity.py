"""Integrity flags: protected files a student changed, and what the scorecards found.

The regrade never uses a student's copy of the workflow, tests, ``pyproject.toml`` or grader
(only their exercise files reach the worker), so changing them cannot change the grade of
record -- but an instructor wants to know who tried. ``grade release`` records the protected
files' hashes in ``<release>/.trainloop/manifest.json``::

    {"format": 1, "grader_version": "...", "created": "...",
     "files": {"<posix relpath>": {"sha256": "...", "protected": true}}}

Scorecards may carry judge-side findings (an ``integrity`` section); they are read
generically here, so the gradebook picks up whatever shape that section takes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from grader.judge.failures import GraderError

MANIFEST_FORMAT = 1
# Files that change how Python or pytest behaves wherever they are: never part of an answer.
DANGEROUS_NAMES = {"conftest.py", "sitecustomize.py", "usercustomize.py", "pytest.ini"}
FORBIDDEN_MARK = "that is not allowed in this exercise"


@dataclass(frozen=True)
class Manifest:
    grader_version: str
    protected: dict[str, str]  # posix relpath -> sha256

    @property
    def protected_dirs(self) -> set[str]:
        return {str(PurePosixPath(p).parent) for p in self.protected} - {"."}


def load_manifest(path: Path) -> Manifest:
    """The release manifest at ``path``; one clear :class:`GraderError` if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GraderError(f"cannot read the release manifest {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise GraderError(f"{path} is not a release manifest (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise GraderError(
            f"{path} is not a release manifest of format {MANIFEST_FORMAT} (written by "
            "`grade release` into <release>/.trainloop/manifest.json)"
        )
    files = data.get("files")
    if not isinstance(files, dict):
        raise GraderError(f"{path}: 'files' must map paths to {{sha256, protected}}")
    protected = {}
    for rel, meta in files.items():
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str):
            raise GraderError(f"{path}: the entry for {rel!r} has no sha256")
        if meta.get("protected"):
            protected[str(rel)] = meta["sha256"].lower()
    return Manifest(grader_version=str(data.get("grader_version", "")), protected=protected)


def tamper_flags(
    manifest: Manifest, files: dict[str, int], read: Callable[[list[str]], dict[str, bytes]]
) -> list[str]:
    """Protected files changed or missing, and files added where none belong.

    ``files`` are the student's files relative to their repository root (the folder the
    release was unpacked into), ``read`` fetches contents.
    """
    present = [p for p in manifest.protected if p in files]
    contents = read(present)
    flags = [f"missing protected file {p}" for p in sorted(manifest.protected) if p not in files]
    for rel in sorted(present):
        if hashlib.sha256(contents[rel]).hexdigest() != manifest.protected[rel]:
            flags.append(f"changed protected file {rel}")
    guarded = manifest.protected_dirs
    for rel in sorted(files):
        if rel in manifest.protected:
            continue
        path = PurePosixPath(rel)
        if path.name in DANGEROUS_NAMES or path.suffix == ".pth":
            flags.append(f"added {rel}")
        elif str(path.parent) in guarded and "__pycache__" not in path.parts:
            flags.append(f"added {rel}")
    return flags


def _finding_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        for key in ("message", "summary", "finding", "description", "rule", "kind", "name"):
            value = item.get(key)
            if isinstance(value, str) and value:
                return value
    return json.dumps(item, sort_keys=True, default=str)[:200]


def card_findings(card: dict[str, Any]) -> list[str]:
    """Integrity findings of one exercise's card (as JSON), whatever shape they take."""
    found: list[str] = []
    section = card.get("integrity")
    if isinstance(section, dict):
        items = section.get("findings", section.get("items"))
        if items is None:
            items = [v for v in section.values() if isinstance(v, list)]
            items = [x for sub in items for x in sub]
        section = items
    if isinstance(section, list):
        found += [_finding_text(item) for item in section if item]
    elif isinstance(section, str) and section:
        found.append(section)
    forbidden = [t for t in card.get("tests", []) if FORBIDDEN_MARK in (t.get("message") or "")]
    if forbidden:
        found.append("forbidden call: " + forbidden[0]["message"].split(":")[0])
    return found
