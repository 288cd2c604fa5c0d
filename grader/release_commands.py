"""``grade`` in a student release: the commands a student uses, and a ``list`` that says what
the public tests are worth.

A release leaves out the modules of the instructor's, the class regrade's and the platform
builders' commands, so :mod:`grader.cli` registers none of them there: ``grade`` offers an
exercise, ``all``, ``list`` and ``schema``. A release has the public tests only, so its
``grade list`` (this one, replacing the checkout's) counts their points and says that the
instructor's grading adds hidden tests. Outside a release this module registers nothing.
"""

from __future__ import annotations

import click

from grader.cli import EXIT_PASSED, _guard
from grader.judge.exercises import RELEASE_INDEX

HIDDEN_NOTE = (
    "These are the public tests' points. When your instructor grades your work, hidden tests "
    "with other inputs add more points: write the general solution, not one that fits these "
    "tests."
)


@click.command(name="list")
@_guard
def list_exercises() -> int:
    """List the exercises with their titles and the points of their public tests."""
    from grader.judge import exercises
    from grader.judge.collect import points_by_visibility

    for ex in exercises.all_exercises():
        points = points_by_visibility(ex).get("public", 0.0)
        click.echo(f"{ex.id:<12} {ex.title:<45} {points:>5g} public points")
    click.echo("")
    click.echo(HIDDEN_NOTE)
    return EXIT_PASSED


COMMANDS = [list_exercises] if RELEASE_INDEX.is_file() else []
