"""Platform commands for ``grade``: ``gradescope-zip`` (build the autograder) and
``gradescope-run`` (what the zip's ``run_autograder`` calls for each submission)."""

from __future__ import annotations

from pathlib import Path

import click

from grader.judge.sandbox.modes import MODES
from grader.platforms.gradescope import (
    DEFAULT_TIME_LIMIT_S,
    DEFAULT_VISIBILITY,
    VISIBILITIES,
    build_zip,
    run_command,
)


@click.command(name="gradescope-zip")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--visibility",
    type=click.Choice(VISIBILITIES),
    default=DEFAULT_VISIBILITY,
    show_default=True,
    help="When students see the hidden tests' results (public tests are always visible). "
    "While after_due_date/after_published tests are not shown, Gradescope hides the total "
    "too; with 'hidden' the total, hidden points included, stays visible.",
)
@click.option(
    "--exercise",
    "exercise_names",
    multiple=True,
    help="Grade only this exercise (repeat for several); default: all of them.",
)
@click.option("-k", "select", default=None, help="Only tests whose name matches (pytest -k).")
@click.option("--public-only", is_flag=True, help="Run only the public tests.")
@click.option(
    "--isolation",
    type=click.Choice(("auto", *MODES)),
    default="auto",
    show_default=True,
    help="Sandbox for student code; auto picks the strongest the Gradescope image allows.",
)
@click.option(
    "--time-limit",
    "time_limit_s",
    type=click.IntRange(30, 2400),
    default=DEFAULT_TIME_LIMIT_S,
    show_default=True,
    help="Seconds before run_autograder gives up and writes a zero result; keep it below "
    "the assignment's Gradescope timeout.",
)
def gradescope_zip(
    out: Path,
    visibility: str,
    exercise_names: tuple[str, ...],
    select: str | None,
    public_only: bool,
    isolation: str,
    time_limit_s: int,
) -> None:
    """Build the Gradescope autograder zip OUT (setup.sh, run_autograder and the grader)."""
    from grader.judge.failures import GraderError

    try:
        names = build_zip(
            out,
            visibility=visibility,
            exercise_names=exercise_names,
            select=select,
            public_only=public_only,
            isolation=isolation,
            time_limit_s=time_limit_s,
        )
    except GraderError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out} ({len(names)} files; hidden tests: {visibility})")
    click.echo(
        "upload it under Configure Autograder; give the container at least 2 GB of memory "
        "(torch does not fit the 768 MB default)"
    )


COMMANDS = [gradescope_zip, run_command]
