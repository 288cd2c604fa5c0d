"""The ``grade`` command.

``grade exercise-3`` (or ``grade 3``, ``ex3``, ``gradient_clipping``, or the path of the file)
grades one exercise, ``grade all`` every exercise, ``grade list`` shows them, ``grade schema``
prints the scorecard's JSON schema. The exit codes are :mod:`grader.judge.exit_codes`': 0
every test passed, 1 some test failed, 2 could not grade, 130/143 interrupted.

The options that ``grade exercise-N`` and ``grade all`` share are defined once, as the fields
of :class:`GradeArgs`; each field carries its click option.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grader import __version__
from grader.judge.exit_codes import EXIT_ERROR, EXIT_FAILED, EXIT_PASSED
from grader.judge.failures import GraderError
from grader.judge.sandbox.modes import LEVELS, MODES

if TYPE_CHECKING:
    from grader.judge.exercises import Exercise
    from grader.judge.runner import Options

__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_PASSED", "GradeArgs", "main"]

ISOLATION_CHOICES = ("auto", *MODES)
REQUIRE_CHOICES = tuple(level for level in LEVELS if level != "process")  # weaker: no promise
FORMAT_CHOICES = ("text", "classroom", "junit", "gradescope", "json")


def _option(*decls: str, default: Any = None, **attrs: Any) -> Any:
    """A :class:`GradeArgs` field with its default, and the click option that fills it."""
    return dataclasses.field(
        default=default, metadata={"decls": decls, "attrs": {"default": default, **attrs}}
    )


@dataclasses.dataclass(frozen=True)
class GradeArgs:
    """What ``grade exercise-N`` and ``grade all`` are asked to do."""

    submission: Path = _option(
        "--submission",
        "-s",
        default=Path("exercises"),
        type=click.Path(path_type=Path),
        show_default=True,
        help="A .py file or notebook, or a folder holding exNN_<slug>.py files.",
    )
    json_path: Path = _option(
        "--json",
        default=Path("scorecard.json"),
        type=click.Path(path_type=Path, dir_okay=False),
        show_default=True,
        help="Where to write the JSON scorecard.",
    )
    device: str = _option(
        "--device",
        default="auto",
        type=click.Choice(["auto", "cpu", "cuda"]),
        show_default=True,
        help="auto = CPU, plus CUDA when a GPU is present.",
    )
    seed: int | None = _option("--seed", type=int, help="Seed for hidden tests' inputs.")
    isolation: str = _option(
        "--isolation",
        default="auto",
        type=click.Choice(ISOLATION_CHOICES),
        show_default=True,
        help="Sandbox for student code; auto picks the strongest available.",
    )
    require_isolation: str | None = _option(
        "--require-isolation",
        type=click.Choice(REQUIRE_CHOICES),
        help="Refuse to grade (exit 2) unless the worker gets at least this isolation: "
        "landlock = Landlock file allow-list and seccomp; bwrap = bubblewrap namespaces.",
    )
    public_only: bool = _option(
        "--public-only", default=False, is_flag=True, help="Run only the public tests."
    )
    select: str | None = _option(
        "-k",
        help="Only tests whose name matches (pytest -k syntax, case-insensitive): the name "
        "the report shows, or the test function's.",
    )
    verbose: bool = _option(
        "--verbose", "-v", default=False, is_flag=True, help="Show skipped tests' reasons."
    )
    fmt: str = _option(
        "--format",
        default="text",
        type=click.Choice(FORMAT_CHOICES),
        show_default=True,
        help="classroom: GitHub Actions step output, annotations and job summary; junit: "
        "JUnit XML; gradescope: results.json; json: the scorecard on stdout.",
    )
    output: Path | None = _option(
        "--output",
        "-o",
        type=click.Path(path_type=Path, dir_okay=False),
        help="File for --format junit/gradescope/json (default junit.xml, results.json, "
        "stdout); for classroom, a copy of the reporter payload.",
    )

    def options(self) -> Options:
        """The runner's options for these arguments."""
        from grader.judge.runner import Options

        return Options(
            device=self.device,
            seed=self.seed,
            isolation=self.isolation,
            visibilities=("public",) if self.public_only else ("public", "hidden"),
            select=self.select,
            require_isolation=self.require_isolation,
        )

    def check_writable(self) -> None:
        """Before grading starts: a scorecard or report that cannot be written is a usage
        error, not the end of a whole grading run."""
        from grader.judge.scorecard import check_writable

        for path, flag, what in (
            (self.json_path, "--json", "scorecard"),
            (self.output, "--output", "output"),
        ):
            if path is None:
                continue
            try:
                check_writable(path)
            except OSError as exc:
                raise GraderError(
                    f"cannot write the {what} to {path} ({exc.strerror}): pass {flag} with a "
                    "writable file path"
                ) from None


def grading_options(fn: Callable[[GradeArgs], Any]) -> Callable[..., Any]:
    """Give a command every :class:`GradeArgs` option; it is called with one ``GradeArgs``."""

    @functools.wraps(fn)
    def command(**kwargs: Any) -> Any:
        return fn(GradeArgs(**kwargs))

    for f in reversed(dataclasses.fields(GradeArgs)):
        command = click.option(*f.metadata["decls"], f.name, **f.metadata["attrs"])(command)
    return command


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
        # (Tested into a name: `is sys.__stdout__` in the `if` would narrow sys.stdout to
        # `TextIOWrapper | None`, the type of __stdout__; typeshed types sys.stdout as TextIO.)
        fast_exit = sys.stdout is sys.__stdout__ and os.environ.get("TLG_FAST_EXIT", "1") == "1"
        if fast_exit:
            # The scorecard is on disk and the report printed: skip interpreter teardown
            # (with torch loaded it costs a few hundred ms on every `grade` run).
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # None when Python started with that stream closed
                    stream.flush()
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


def grade_one(ex: Exercise, args: GradeArgs) -> int:
    """Grade ``ex`` and write its scorecard whatever happens (:mod:`grader.platforms.formats`)."""
    from grader.platforms import formats

    args.check_writable()
    card, errors = formats.grade_exercise(ex, args.submission, args.options())
    return formats.emit(
        card, args.fmt, args.output, json_path=args.json_path, verbose=args.verbose, errors=errors
    )


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
        named = Path(cmd_name)  # `grade exercises/ex03_gradient_clipping.ipynb`: that file
        implied = named if named.is_file() else None

        @click.command(name=cmd_name, help=f"Grade {ex.id}: {ex.title}.")
        @grading_options
        @_guard
        def grade_exercise(args: GradeArgs) -> int:
            source = click.get_current_context().get_parameter_source("submission")
            if implied is not None and source == click.core.ParameterSource.DEFAULT:
                args = dataclasses.replace(args, submission=implied)
            return grade_one(ex, args)

        return grade_exercise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_commands(ctx, formatter)
        with formatter.section("Exercises"):
            formatter.write_text(
                "grade exercise-N (or N, exN, its slug, or the path of its file) grades one "
                "exercise; see `grade list`."
            )


@click.group(cls=ExerciseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trainloop-grader")
def main() -> None:
    """Grade exercises of *Learn the Training Loop with PyTorch*.

    Student code runs in a sandboxed worker process; the score is decided outside it.
    Exit codes: 0 every test passed, 1 some test failed, 2 could not grade.
    """


@main.command(name="all")
@grading_options
@_guard
def grade_all(args: GradeArgs) -> int:
    """Grade every exercise and write one scorecard with the grand total."""
    from grader.judge import exercises
    from grader.platforms import formats

    args.check_writable()
    bundle, errors = formats.grade_every(
        list(exercises.all_exercises()), args.submission, args.options()
    )
    return formats.emit(
        bundle,
        args.fmt,
        args.output,
        json_path=args.json_path,
        verbose=args.verbose,
        errors=errors,
    )


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
