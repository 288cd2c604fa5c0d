"""``grade exercise-N`` and ``grade all``, in every ``--format``: grade, then render.

Grading never raises here: whatever goes wrong (a missing submission, a folder with no exercise
files, a suite that fails to load, a bug in the grader) becomes a failed scorecard and is
rendered like any other, because a student, a CI step or an autograder must always find a
scorecard for every exercise it asked for. The exit code comes from
:func:`grader.judge.exit_codes.for_card`, the same for every format except ``classroom``,
which exits 0 once its outputs are written (the reporter step fails the job).
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import click

from grader.judge import exit_codes, runner
from grader.judge.exercises import Exercise
from grader.judge.failures import GraderError
from grader.judge.scorecard import Bundle, Scorecard, write_atomic, write_text_atomic
from grader.judge.submission import exercise_files
from grader.platforms.common import neutralise

DEFAULT_OUTPUT = {"junit": Path("junit.xml"), "gradescope": Path("results.json")}


def _print_traceback() -> None:
    """The traceback of a grader bug, for the bug report; neutralised, since an exception's
    text can quote the submission and stderr is a CI log too."""
    sys.stderr.write(neutralise(traceback.format_exc()) + "\n")


def _internal(exc: BaseException) -> str:
    return f"internal grader error: {type(exc).__name__}: {exc}"


def grade_exercise(ex: Exercise, root: Path, opts: runner.Options) -> tuple[Scorecard, list[str]]:
    """Grade one exercise; never raises (an interrupt gives a card marked interrupted)."""
    if not root.exists():
        error = f"{root} does not exist: pass --submission with your exercises folder or file"
        return runner.failed_card(ex, root, opts, error), [error]
    try:
        return runner.grade(runner.prepare(ex, root, opts), opts), []
    except GraderError as exc:
        return runner.failed_card(ex, root, opts, str(exc)), [str(exc)]
    except KeyboardInterrupt:
        error = "interrupted before any test finished"
        return runner.failed_card(ex, root, opts, error, interrupted=True), []
    except Exception as exc:
        _print_traceback()
        return runner.failed_card(ex, root, opts, _internal(exc)), [_internal(exc)]


def grade_every(
    exercises: Sequence[Exercise], root: Path, opts: runner.Options
) -> tuple[Bundle, list[str]]:
    """Grade several exercises into a bundle; never raises (an interrupt gives a bundle marked
    interrupted, holding what finished)."""
    error = _unusable_folder(root)
    if error is None:
        try:
            runner.check_isolation(opts)  # once, not once per exercise
            return runner.grade_many(list(exercises), root, opts)
        except GraderError as exc:
            error = str(exc)
        except KeyboardInterrupt:  # before any exercise started
            return runner.interrupted_bundle(opts), []
        except Exception as exc:  # a grader bug: every exercise reports it, none is lost
            _print_traceback()
            error = _internal(exc)
    failed = [runner.failed_card(ex, root, opts, error) for ex in exercises]
    bundle = Bundle(
        score=0.0,
        max_score=round(sum(c.max_score for c in failed), 6),
        seed=opts.resolved_seed(),
        started_at=datetime.now(timezone.utc),
        duration_s=0.0,
        exercises=failed,
    )
    return bundle, [error]


def _unusable_folder(root: Path) -> str | None:
    """Why ``root`` cannot hold anything ``grade all`` could grade, or None."""
    if not root.exists():
        return f"{root} does not exist: pass --submission with your exercises folder"
    if root.is_dir() and not exercise_files(root):
        return (
            f"{root} holds no exercise files (exNN_<slug>.py or exNN_<slug>.ipynb): pass "
            "--submission with the folder you saved your exercises in"
        )
    return None


def _report(card: Scorecard | Bundle, verbose: bool) -> str:
    from grader.judge.report import render, render_bundle

    text = (
        render_bundle(card, verbose=verbose)
        if isinstance(card, Bundle)
        else render(card, verbose=verbose)
    )
    return click.unstyle(text)


def emit(
    card: Scorecard | Bundle,
    fmt: str,
    output: Path | None,
    *,
    json_path: Path,
    verbose: bool = False,
    errors: Sequence[str] = (),
) -> int:
    """Write the scorecard and ``card`` in ``fmt``; return the exit code."""
    errors = list(errors)
    try:
        write_atomic(json_path, card)
    except OSError as exc:
        errors.append(f"cannot write the scorecard to {json_path}: {exc.strerror}")
    code = exit_codes.for_card(card, errors)
    if fmt == "text":
        from grader.judge.report import render, render_bundle

        text = (
            render_bundle(card, verbose=verbose)
            if isinstance(card, Bundle)
            else render(card, verbose=verbose)
        )
        click.echo(text)
        click.echo(f"scorecard: {json_path}")
        _errors(errors, card)
        return code
    if fmt == "classroom":
        from grader.platforms import classroom

        try:
            classroom.emit(
                card, _report(card, verbose), errors=errors, out=sys.stdout, payload_path=output
            )
        except OSError as exc:
            click.echo(f"error: cannot write the GitHub Actions outputs: {exc}", err=True)
            return exit_codes.EXIT_ERROR
        return exit_codes.EXIT_PASSED
    if fmt == "json":
        text = card.model_dump_json(indent=2) + "\n"
        if output is None:
            click.echo(text, nl=False)
        else:
            code = _write(output, text, errors) or code
        return code
    if fmt not in DEFAULT_OUTPUT:
        raise click.UsageError(f"unknown format {fmt!r}")  # the CLI offers only known ones
    target = output or DEFAULT_OUTPUT[fmt]
    if fmt == "junit":
        from grader.platforms.junit import junit_xml

        text = junit_xml(card)
    else:
        from grader.platforms.gradescope import results_json

        text = json.dumps(results_json(card), indent=2) + "\n"
    code = _write(target, text, errors) or code
    # neutralised here too: junit and gradescope results are often made inside a CI job
    click.echo(neutralise(_report(card, verbose)))
    click.echo(f"scorecard: {json_path}\n{fmt}: {target}")
    _errors(errors, card)
    return code


def _write(path: Path, text: str, errors: list[str]) -> int | None:
    """Write a report file; on failure note why and return the exit code that says so."""
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        errors.append(f"cannot write {path}: {exc.strerror}")
        return exit_codes.EXIT_ERROR
    return None


def _errors(errors: Sequence[str], card: Scorecard | Bundle) -> None:
    for err in errors:
        click.echo(neutralise(f"error: {err}"), err=True)
    if card.interrupted:
        what = "exercises" if isinstance(card, Bundle) else "tests"
        click.echo(f"interrupted: the scorecard holds the {what} that finished", err=True)
