"""The scorecard: one pydantic model, written by the judge, read by every renderer.

``Scorecard`` is one exercise; ``Bundle`` is what ``grade all`` writes (every exercise and the
grand total). ``grade schema`` prints the JSON schema of both. Files are written atomically
(temporary file + rename), so a reader never sees half a scorecard.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, Field, TypeAdapter

SCHEMA_VERSION: Final = 1

Status = Literal["passed", "failed", "error", "skipped"]
IsolationLevel = Literal["process", "landlock", "bwrap"]
Visibility = Literal["public", "hidden"]


class TestResult(BaseModel):
    id: str = Field(description="Stable test id: '<visibility>/<test function>[<params>]'.")
    name: str = Field(description="What the test checks, in words.")
    status: Status
    score: float
    max_score: float = Field(description="Points this test is worth (0 when skipped).")
    message: str = ""
    hint: str = ""
    device: str | None = None
    visibility: Visibility
    measures: Literal["correctness", "speed"] = Field(
        "correctness", description="'speed' for timing checks (marked @pytest.mark.speed)."
    )
    duration_s: float
    functions: list[str] = Field(default_factory=list, description="Student names it used.")
    voided_by: Literal["audit", "runtime guard"] | None = Field(
        None,
        description="Why a test that ran counts 0: a construct the judge's source audit found "
        "('audit'), or a forbidden call the worker's guard saw ('runtime guard').",
    )


class Submission(BaseModel):
    path: str
    sha256: str | None = None
    error: str | None = Field(None, description="Why the submission could not be graded.")
    notes: list[str] = Field(default_factory=list)


class IntegrityFinding(BaseModel):
    line: int
    col: int
    code: str = Field(description="The construct, as written.")
    why: str
    instead: str = Field(description="What to write instead.")
    function: str | None = Field(description="Top-level function/class it is in (None: module).")
    rule: str = ""
    binds: list[str] = Field(
        default_factory=list,
        description="At module level: the names the statement only binds (an import or alias); "
        "it then voids the tests of those names. Other module-level code voids every test.",
    )


class Integrity(BaseModel):
    """What the judge found reading the submission's source before any of it ran."""

    audited: bool = Field(description="Whether the source audit ran (not for references).")
    findings: list[IntegrityFinding] = Field(default_factory=list)


class Environment(BaseModel):
    python: str
    torch: str
    grader: str
    platform: str
    devices_tested: list[str]
    isolation: list[str] = Field(description="Isolation layers that were active.")
    isolation_mode: str = Field(description="How the worker was started: bwrap, unshare, process.")
    isolation_level: IsolationLevel = Field(
        "process",
        description="What the grade can be trusted for: 'bwrap' or 'landlock' (Landlock and "
        "seccomp both active) make a grade of record; 'process' is feedback only.",
    )
    landlock_abi: int = Field(0, description="Landlock ABI the worker applied (0: none).")


class Scorecard(BaseModel):
    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["exercise"] = "exercise"
    exercise: str
    title: str
    score: float
    max_score: float
    submission: Submission
    seed: int = Field(description="Grade-time seed that hidden tests drew their inputs from.")
    environment: Environment
    started_at: datetime
    duration_s: float
    interrupted: bool = Field(
        False, description="Grading was stopped (SIGINT/SIGTERM): only finished tests are here."
    )
    integrity: Integrity | None = None
    tests: list[TestResult]

    @property
    def passed(self) -> bool:
        return all(t.status in ("passed", "skipped") for t in self.tests) and bool(self.tests)


class Bundle(BaseModel):
    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["bundle"] = "bundle"
    score: float
    max_score: float
    seed: int
    started_at: datetime
    duration_s: float
    interrupted: bool = Field(
        False, description="Grading was stopped: only the exercises that finished are here."
    )
    exercises: list[Scorecard]


AnyCard = Scorecard | Bundle


def json_schema() -> dict[str, Any]:
    return TypeAdapter(AnyCard).json_schema()


FILE_MODE = 0o644  # scorecards and reports hold no secret: readable by graders and tools


def write_atomic(path: Path, card: Scorecard | Bundle) -> None:
    """Write ``card`` to ``path`` so that readers see the old file or the new one, never half."""
    write_text_atomic(path, card.model_dump_json(indent=2) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, mode :data:`FILE_MODE`."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``: every file the grader
    leaves for a person or a tool (scorecards, JUnit XML, Gradescope results, release files)
    goes through here.

    The text goes to a new temporary file beside ``path`` (``mkstemp``: ``O_EXCL``, so never
    through a link someone planted) and is renamed onto it: a reader sees the old file or the
    new one, and a link at ``path`` is replaced, never followed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # mkstemp makes it 0600
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(path: Path) -> None:
    """Raise OSError unless a scorecard can be written at ``path`` -- checked before grading
    starts, so a read-only target never costs a whole grading run (nor leaves an old file
    looking current)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, "it is a folder; give a file name", str(path))
    if path.exists() and not path.stat().st_mode & 0o200:
        raise PermissionError(13, "the file is read-only", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".check", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)


def load(path: Path) -> Scorecard | Bundle:
    return TypeAdapter(AnyCard).validate_json(Path(path).read_bytes())
