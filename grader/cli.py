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
        click.option(
            "--require-isolation",
            type=click.Choice(["landlock", "bwrap"]),
            default=None,
            help="Refuse to grade (exit 2) unless the worker gets at least this isolation: "
            "landlock = Landlock file allow-list and seccomp; bwrap = bubblewrap namespaces.",
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
    device: str,
    seed: int | None,
    isolation: str,
    public_only: bool,
    select: str | None,
    require_isolation: str | None = None,
) -> Any:
    from grader.judge.runner import Options

    vis = ("public",) if public_only else ("public", "hidden")
    return Options(
        device=device,
        seed=seed,
        isolation=isolation,
        visibilities=vis,
        select=select,
        require_isolation=require_isolation,
    )


def _check_writable(path: Path | None, flag: str, what: str) -> None:
    """Before grading starts: a scorecard or report that cannot be written is a usage error."""
    from grader.judge.scorecard import check_writable

    if path is None:
        return
    try:
        check_writable(path)
    except OSError as exc:
        raise GraderError(
            f"cannot write the {what} to {path} ({exc.strerror}): pass {flag} with a "
            "writable file path"
        ) from None


def _guard(fn: Callable[..., int]) -> Callable[..., None]:
    """One clear line and exit 2 for grading errors; never an internal traceback. SIGINT and
    SIGTERM end with 130/143 once the scorecard is written; workers and their folders are
    removed whatever happens."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from grader.judge import interrupts

        interrupts.install()
        try:
            code = fn(*args, **kwargs)
        except GraderError as exc:
            click.echo(click.style("error: ", fg="red", bold=True) + str(exc), err=True)
            code = EXIT_ERROR
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            code = interrupts.exit_code()
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
        finally:
            _cleanup()
        if sys.stdout is sys.__stdout__ and os.environ.get("TLG_FAST_EXIT", "1") == "1":
            # The scorecard is on disk and the report printed: skip interpreter teardown
            # (with torch loaded it costs a few hundred ms on every `grade` run).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        sys.exit(code)

    return wrapper


def _cleanup() -> None:
    """Kill every worker and remove every temporary folder (a fast exit skips atexit)."""
    if "grader.judge.client" in sys.modules:
        from grader.judge.client import close_all

        close_all()
    if "grader.judge.submission" in sys.modules:
        from grader.judge.submission import cleanup

        cleanup()


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
    require_isolation: str | None,
    public_only: bool,
    select: str | None,
    verbose: bool,
    fmt: str = "text",
    output: Path | None = None,
) -> int:
    from grader.judge import exercises, interrupts, runner
    from grader.judge.report import render

    ex = exercises.find(name)
    opts = _options(device, seed, isolation, public_only, select, require_isolation)
    _check_writable(json_path, "--json", "scorecard")
    _check_writable(output, "--output", "output")
    if fmt != "text":  # machine formats: always leave a valid result behind
        from grader.platforms import formats

        card, errors = formats.grade_exercise(ex, submission, opts)
        code = formats.emit(card, fmt, output, json_path=json_path, verbose=verbose, errors=errors)
        return interrupts.exit_code() if card.interrupted else code
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
    except KeyboardInterrupt:
        _cleanup()
        reason = "interrupted before any test finished"
        _write(runner.failed_card(ex, submission, opts, reason, interrupted=True), json_path)
        raise
    _write(card, json_path)
    click.echo(render(card, verbose=verbose))
    click.echo(f"scorecard: {json_path}")
    if card.interrupted:
        click.echo("interrupted: the scorecard holds the tests that finished", err=True)
        return interrupts.exit_code()
    return EXIT_PASSED if card.passed else EXIT_FAILED


class ExerciseGroup(click.Group):
    """Subcommands plus one implicit command per exercise (``grade exercise-3``, ``grade 3``)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Route SIGINT/SIGTERM to the commands' own handling from the start, and end an
        interrupt that comes before a command runs with 130/143 (click would say 1)."""
        from grader.judge import interrupts

        interrupts.install()
        try:
            return super().main(*args, **kwargs)
        except SystemExit as exc:
            if exc.code == 1 and interrupts.received():
                sys.exit(interrupts.exit_code())
            raise

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
    require_isolation: str | None,
    public_only: bool,
    select: str | None,
    verbose: bool,
    fmt: str,
    output: Path | None,
) -> int:
    """Grade every exercise and write one scorecard with the grand total."""
    from grader.judge import exercises, interrupts, runner
    from grader.judge.report import render_bundle

    opts = _options(device, seed, isolation, public_only, select, require_isolation)
    _check_writable(json_path, "--json", "scorecard")
    _check_writable(output, "--output", "output")
    if fmt != "text":  # machine formats: always leave a valid result behind
        from grader.platforms import formats

        bundle, errors = formats.grade_every(list(exercises.all_exercises()), submission, opts)
        code = formats.emit(
            bundle, fmt, output, json_path=json_path, verbose=verbose, errors=errors
        )
        return interrupts.exit_code() if bundle.interrupted else code
    if not submission.exists():
        raise GraderError(f"{submission} does not exist: pass --submission with your folder")
    try:
        runner.check_isolation(opts)
        bundle, errors = runner.grade_many(list(exercises.all_exercises()), submission, opts)
    except KeyboardInterrupt:  # before any exercise started: still a scorecard, saying so
        _cleanup()
        _write(runner.interrupted_bundle(opts), json_path)
        raise
    _write(bundle, json_path)
    click.echo(render_bundle(bundle, verbose=verbose))
    click.echo(f"scorecard: {json_path}")
    for err in errors:
        click.echo(click.style("error: ", fg="red", bold=True) + err, err=True)
    if bundle.interrupted:
        click.echo("interrupted: the scorecard holds the exercises that finished", err=True)
        return interrupts.exit_code()
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
