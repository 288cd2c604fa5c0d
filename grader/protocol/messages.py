"""The protocol's vocabulary: what the judge may ask a worker, and how a worker says it failed.

Both sides use these names, so a typo is a type error, not a request nobody understands.
Values are plain strings on the wire (the enums subclass ``str``).
"""

from __future__ import annotations

from enum import Enum


class Op(str, Enum):
    """A request from the judge."""

    LOAD = "load"  # import the submission: {"forbidden": [...], "threads": n}
    CALL = "call"  # call a student function: {"name", "args", "kwargs"}
    SCENARIO = "scenario"  # run trusted harness code around student code: {"name", "kwargs"}
    PING = "ping"  # are you there? (tests)


class ErrorKind(str, Enum):
    """Why a worker's reply is ``{"ok": False}``."""

    START = "start"  # the worker could not confine itself or start (before any student code)
    IMPORT = "import"  # importing the submission raised
    MISSING = "missing"  # the submission does not define a name a test needs
    NOT_IMPLEMENTED = "not_implemented"  # the student's code raised NotImplementedError
    EXCEPTION = "exception"  # the student's code raised anything else
    BAD_RETURN = "bad_return"  # a result that cannot travel (a tensor subclass, an object)
    PROTOCOL = "protocol"  # the request itself made no sense to the worker
