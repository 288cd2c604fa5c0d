"""The ``grade`` command.

``grade exercise-3`` (or ``grade 3``, ``grade gradient_clipping``) grades one exercise,
``grade all`` every exercise, ``grade list`` shows them, ``grade schema`` prints the scorecard's
JSON schema. Exit codes: 0 every test passed, 1 some test failed, 2 usage or grading error.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from grader.judge.failures import GraderError

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def grading_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--submission",
            "-s",
            type=click.Path(path_type=Path),
            default=Path("exercises"),
            show_default=True,
            help="A .py file, or a folder holding exNN_<slug>.py files.",
        ),
        click.option(
            "--json",
            "json_path",
            type=click.Path(path_type=Path, dir_okay=False),
            default=Path("scorecard.json"),
            show_default=True,
            help="Where to write the JSON scorecard.",
        ),
        click.option(
            "--device",
            type=click.Choice(["auto", "cpu", "cuda"]),
            default="auto",
            show_default=True,
            help="auto = CPU, plus CUDA when a GPU is present.",
        ),
        click.option("--seed", type=int, default=None, help="Seed for hidden tests' inputs."),
        click.option(
            "--isolation",
            type=click.Choice(["auto", "bwrap", "unshare", "process"]),
            default="auto",
            show_default=True,
            help="Sandbox for student code; auto picks the strongest available.",
        ),
        click.option("--public-only", is_flag=True, help="Run only the public tests."),
        click.option(
            "-k", "select", default=None, help="Only tests whose name matches (pytest -k)."
        ),
        click.option("--verbose", "-v", is_flag=True, help="Show skipped tests' reasons."),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["text", "classroom", "junit", "gradescope", "json"]),
            default="text",
            show_default=True,
            help="classroom: GitHub Actions step output, annotations and job summary; junit: "
            "JUnit XML; gradescope: results.json; json: the scorecard on stdout.",
        ),
        click.option(
            "--output",
            "-o",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            help="File for --format junit/gradescope/json (default junit.xml, results.json, "
            "stdout); for classroom, a copy of the reporter payload.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _options(
    device: str, seed: int | None, isolation: str, public_only: bool, select: str | None
) -> Any:
    from grader.judge.runner import Options

    vis = ("public",) if public_only else ("public", "hidden")
    return Options(device=device, seed=seed, isolation=isolation, visibilities=vis, select=select)


def _guard(fn: Callable[..., int]) -> Callable[..., None]:
    """One clear line and exit 2 for grading errors; never an internal traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = fn(*args, **kwargs)
        except GraderError as exc:
            click.echo(click.style("error: ", fg="red", bold=True) + str(exc), err=True)
            code = EXIT_ERROR
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            code = 130
        except click.exceptions.ClickException:
            raise
        except Exception as exc:  # the last line of defence: report, don't dump internals
            if os.environ.get("TLG_DEBUG"):
                raise
            click.echo(
                click.style("internal error: ", fg="red", bold=True)
                + f"{type(exc).__name__}: {exc} (set TLG_DEBUG=1 for details and report it)",
                err=True,
            )
            code = EXIT_ERROR
        if sys.stdout is sys.__stdout__ and os.environ.get("TLG_FAST_EXIT", "1") == "1":
            # The scorecard is on disk and the report printed: skip interpreter teardown
            # (with torch loaded it costs a few hundred ms on every `grade` run).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        sys.exit(code)

    return wrapper


def _write(card: Any, json_path: Path) -> None:
    from grader.judge.scorecard import write_atomic

    try:
        write_atomic(json_path, card)
    except OSError as exc:
        raise GraderError(f"cannot write the scorecard to {json_path}: {exc.strerror}") from None


def grade_one(
    name: str,
    submission: Path,
    json_path: Path,
    device: str,
    seed: int | None,
    isolation: str,
    public_only: bool,
    select: str | None,
    verbose: bool,
    fmt: str = "text",
    output: Path | None = None,
) -> int:
    from grader.judge import exercises, runner
    from grader.judge.report import render

    ex = exercises.find(name)
    opts = _options(device, seed, isolation, public_only, select)
    if fmt != "text":  # machine formats: always leave a valid result behind
        from grader.platforms import formats

        card, errors = formats.grade_exercise(ex, submission, opts)
        return formats.emit(card, fmt, output, json_path=json_path, verbose=verbose, errors=errors)
    if not submission.exists():
        card = runner.failed_card(ex, submission, opts, f"{submission} does not exist")
        _write(card, json_path)
        raise GraderError(
            f"{submission} does not exist: pass --submission with your exercises folder or file"
        )
    try:
        card = runner.grade(runner.prepare(ex, submission, opts), opts)
    except GraderError as exc:
        _write(runner.failed_card(ex, submission, opts, str(exc)), json_path)
        raise
    _write(card, json_path)
    click.echo(render(card, verbose=verbose))
    click.echo(f"scorecard: {json_path}")
    return EXIT_PASSED if card.passed else EXIT_FAILED


class ExerciseGroup(click.Group):
    """Subcommands plus one implicit command per exercise (``grade exercise-3``, ``grade 3``)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        from grader.judge import exercises

        try:
            ex = exercises.find(cmd_name)
        except GraderError as exc:
            raise click.UsageError(str(exc), ctx) from None

        @click.command(name=cmd_name, help=f"Grade {ex.id}: {ex.title}.")
        @grading_options
        @_guard
        def grade_exercise(**kwargs: Any) -> int:
            return grade_one(ex.id, **kwargs)

        return grade_exercise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_commands(ctx, formatter)
        with formatter.section("Exercises"):
            formatter.write_text(
                "grade exercise-N (or N, or its slug) grades one exercise; see `grade list`."
            )


@click.group(cls=ExerciseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trainloop-grader")
def main() -> None:
    """Grade exercises of *Learn the Training Loop with PyTorch*.

    Student code runs in a sandboxed worker process; the score is decided outside it.
    """


@main.command(name="all")
@grading_options
@_guard
def grade_all(
    submission: Path,
    json_path: Path,
    device: str,
    seed: int | None,
    isolation: str,
    public_only: bool,
    select: str | None,
    verbose: bool,
    fmt: str,
    output: Path | None,
) -> int:
    """Grade every exercise and write one scorecard with the grand total."""
    from grader.judge import exercises, runner
    from grader.judge.report import render_bundle

    if fmt != "text":  # machine formats: always leave a valid result behind
        from grader.platforms import formats

        opts = _options(device, seed, isolation, public_only, select)
        bundle, errors = formats.grade_every(list(exercises.all_exercises()), submission, opts)
        return formats.emit(
            bundle, fmt, output, json_path=json_path, verbose=verbose, errors=errors
        )
    if not submission.exists():
        raise GraderError(f"{submission} does not exist: pass --submission with your folder")
    opts = _options(device, seed, isolation, public_only, select)
    bundle, errors = runner.grade_many(list(exercises.all_exercises()), submission, opts)
    _write(bundle, json_path)
    click.echo(render_bundle(bundle, verbose=verbose))
    click.echo(f"scorecard: {json_path}")
    for err in errors:
        click.echo(click.style("error: ", fg="red", bold=True) + err, err=True)
    if errors:
        return EXIT_ERROR
    return EXIT_PASSED if all(c.passed for c in bundle.exercises) else EXIT_FAILED


@main.command(name="list")
@_guard
def list_exercises() -> int:
    """List the exercises with their titles and points."""
    from grader.judge import exercises
    from grader.judge.collect import points_by_visibility

    for ex in exercises.all_exercises():
        pts = points_by_visibility(ex)
        detail = ", ".join(f"{v} {p:g}" for v, p in pts.items())
        click.echo(f"{ex.id:<12} {ex.title:<45} {sum(pts.values()):>5g} points ({detail})")
    return EXIT_PASSED


@main.command()
def schema() -> None:
    """Print the JSON schema of the scorecard (one exercise, or a `grade all` bundle)."""
    from grader.judge.scorecard import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def _add_optional_commands() -> None:
    """Commands that live in optional packages (a student release ships without some)."""
    from importlib import import_module

    for name in (
        "grader.instructor.commands",
        "grader.platforms.commands",
        "grader.regrade.commands",
        "grader.release_commands",  # a student release's `grade list`
    ):
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # package not shipped
            raise
        for command in getattr(module, "COMMANDS", []):
            main.add_command(command)


_add_optional_commands()
