"""Why a test failed, in words a student can act on.

Every way a test can fail because of the submission raises a :class:`Failure` (an
``AssertionError``, so plain pytest reports it too). The pytest plugin turns its ``message``
and ``hint`` into the scorecard entry. Anything else raised inside a suite is a grader error.
"""

from __future__ import annotations


class Failure(AssertionError):
    """A test failed; ``message`` says what was expected and what came back."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\nhint: {self.hint}" if self.hint else self.message


class ForbiddenUse(Failure):
    """A suite's own check saw the submission use what the exercise forbids (exercise 8's
    engine calling torch): the test is voided, like a use the worker's guard reports."""


class StudentError(Failure):
    """The student's code could not produce a value (raised, crashed, hung, missing, ...)."""


class NotImplementedYet(StudentError):
    pass


class WorkerLost(StudentError):
    """The worker died or hung; the client has already killed it and will start a new one."""


class SubmissionUnusable(StudentError):
    """The submission cannot be imported at all (missing file, syntax error, import error)."""


class GraderError(Exception):
    """The grading infrastructure itself failed (exit code 2)."""
