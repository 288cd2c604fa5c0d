"""``grade all --format ...`` and ``grade exercise-N --format ...``: grade, then render.

For the machine formats grading never raises: whatever goes wrong (a missing submission, a
suite that fails to load, a bug in the grader) becomes a failed scorecard and is rendered like
any other, because a CI step or an autograder must always leave a valid result behind.

Exit codes: ``classroom`` exits 0 once its output is written -- like the Classroom graders, it
leaves pass/fail to the reporter step, which fails the job -- and 2 if it could not write it.
The other formats keep the usual codes (0 passed, 1 failed, 2 grading error).
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import click

from grader.judge import runner
from grader.judge.exercises import Exercise
from grader.judge.failures import GraderError
from grader.judge.scorecard import Bundle, Scorecard, write_atomic
from grader.platforms.common import cards, neutralise

FORMATS = ("text", "classroom", "junit", "gradescope", "json")
DEFAULT_OUTPUT = {"junit": Path("junit.xml"), "gradescope": Path("results.json")}
EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


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
    """Grade several exercises into a bundle; never raises (except KeyboardInterrupt)."""
    if not root.exists():
        error = f"{root} does not exist: pass --submission with your folder"
    else:
        try:
            return runner.grade_many(list(exercises), root, opts)
        except GraderError as exc:
            error = str(exc)
        except Exception as exc:  # a grader bug: every exercise reports it, none is lost
            _print_traceback()
            error = _internal(exc)
    failed = [runner.failed_card(ex, root, opts, error) for ex in exercises]
    bundle = Bundle(
        score=0.0,
        max_score=0.0,
        seed=opts.resolved_seed(),
        started_at=datetime.now(timezone.utc),
        duration_s=0.0,
        exercises=failed,
    )
    return bundle, [error]


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
    passed = all(c.passed for c in cards(card))
    code = EXIT_ERROR if errors else EXIT_PASSED if passed else EXIT_FAILED
    if fmt == "classroom":
        from grader.platforms import classroom

        try:
            classroom.emit(
                card, _report(card, verbose), errors=errors, out=sys.stdout, payload_path=output
            )
        except OSError as exc:
            click.echo(f"error: cannot write the GitHub Actions outputs: {exc}", err=True)
            return EXIT_ERROR
        return EXIT_PASSED
    if fmt == "json":
        text = card.model_dump_json(indent=2) + "\n"
        if output is None:
            click.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
        return code
    if fmt not in DEFAULT_OUTPUT:
        raise click.UsageError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    target = output or DEFAULT_OUTPUT[fmt]
    if fmt == "junit":
        from grader.platforms.junit import junit_xml

        text = junit_xml(card)
    else:
        from grader.platforms.gradescope import results_json

        text = json.dumps(results_json(card), indent=2) + "\n"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        errors.append(f"cannot write {target}: {exc.strerror}")
        code = EXIT_ERROR
    # neutralised here too: junit and gradescope results are often made inside a CI job
    click.echo(neutralise(_report(card, verbose)))
    click.echo(f"scorecard: {json_path}\n{fmt}: {target}")
    for err in errors:
        click.echo(neutralise(f"error: {err}"), err=True)
    return code
