"""Progress while a class is graded: a live bar on a terminal, one line per student in logs.

The bar (rich) shows students done of all, the rate in students per minute, elapsed time and
the time left. ``--quiet``, or an output that is not a terminal (a CI log, ``nohup``), gets one
plain line per finished student instead, which reads well in a log file. Colour follows the
``NO_COLOR`` convention (https://no-color.org): rich honours it, and the plain lines carry none.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Protocol

from grader.regrade.records import StudentRecord


def color_allowed() -> bool:
    return not os.environ.get("NO_COLOR") and sys.stderr.isatty()


def one_line(record: StudentRecord) -> str:
    if record.status == "graded":
        what = f"{record.total:g}/{record.max:g}"
    else:
        what = record.status + (f": {record.notes[0]}" if record.notes else "")
    flags = f"  [{'; '.join(record.flags)}]" if record.flags else ""
    return f"{record.student}: {what}{flags}"


class Reporter(Protocol):
    def start(self, total: int, already: int) -> None: ...

    def advance(self, record: StudentRecord) -> None: ...

    def close(self) -> None: ...


class Lines:
    """One line per finished student on stderr, with a count and the rate so far."""

    def __init__(self) -> None:
        self.total = self.done = 0
        self.t0 = time.monotonic()

    def start(self, total: int, already: int) -> None:
        self.total, self.done, self.t0 = total, already, time.monotonic()
        print(f"grading {total - already} student(s) ({already} already done)", file=sys.stderr)

    def advance(self, record: StudentRecord) -> None:
        self.done += 1
        print(f"[{self.done}/{self.total}] {one_line(record)}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class Bar:
    """A rich progress bar with rate and ETA; each finished student printed above it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("grading"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.task: Any = None
        self.t0 = time.monotonic()
        self.fresh = 0

    def start(self, total: int, already: int) -> None:
        self.progress.start()
        self.t0 = time.monotonic()
        self.task = self.progress.add_task("class", total=total, completed=already, rate="")

    def advance(self, record: StudentRecord) -> None:
        self.fresh += 1
        per_min = self.fresh / max(time.monotonic() - self.t0, 1e-9) * 60
        self.progress.console.print(one_line(record), markup=False, highlight=False)
        self.progress.update(self.task, advance=1, rate=f"{per_min:.1f}/min")

    def close(self) -> None:
        self.progress.stop()


class Silent:
    def start(self, total: int, already: int) -> None:
        pass

    def advance(self, record: StudentRecord) -> None:
        pass

    def close(self) -> None:
        pass


def reporter(quiet: bool) -> Reporter:
    """The bar on a terminal, plain lines otherwise or when ``quiet``."""
    if quiet or not sys.stderr.isatty():
        return Lines()
    try:
        return Bar()
    except ImportError:  # rich not installed: the plain lines still work
        return Lines()
