"""``grade class``, ``grade keys new`` and ``grade check-signature``, registered on ``grade``.

Only click is imported at module level: ``grade --help`` must not load torch, dask or
cryptography, and a student release without the ``class`` extra still starts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from grader.cli import EXIT_ERROR, EXIT_FAILED, EXIT_PASSED, _guard
from grader.judge import interrupts
from grader.judge.failures import GraderError
from grader.judge.sandbox.modes import MODES

if TYPE_CHECKING:
    from grader.judge.exercises import Exercise
    from grader.regrade.classrun import Outcome

RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")


def parse_exercises(text: str | None) -> list[Exercise]:
    """``1,3-5`` (numbers, ranges, or any name ``grade`` accepts); all when ``text`` is None."""
    from grader.judge import exercises

    if not text:
        return list(exercises.all_exercises())
    chosen: dict[str, Exercise] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        m = RANGE.match(part)
        names = [str(n) for n in range(int(m.group(1)), int(m.group(2)) + 1)] if m else [part]
        if m and int(m.group(1)) > int(m.group(2)):
            raise GraderError(f"--exercises: the range {part} runs backwards")
        for name in names:
            ex = exercises.find(name)
            chosen[ex.id] = ex
    if not chosen:
        raise GraderError(f"--exercises {text!r} names no exercise")
    return sorted(chosen.values(), key=lambda e: e.number)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _print_outcome(outcome: Outcome, out: Path) -> None:
    c = outcome.summary.counts
    click.echo(
        f"{c.graded} of {c.students} students graded ({c.cards_graded} exercise(s) graded now, "
        f"{c.cards_cached} from the cache) in {outcome.summary.duration_s:.1f} s, "
        f"seed {outcome.summary.seed}"
    )
    for r in outcome.summary.students:
        if r.status in ("not-found", "error"):
            note = r.notes[0] if r.notes else ""
            click.echo(f"  {r.status}: {r.student}: {note}")
    if c.flagged:
        click.echo(f"  {c.flagged} student(s) flagged: see gradebook.csv (flags) or report.html")
    if outcome.interrupted:
        click.echo(
            f"interrupted: finished students are cached in {out}; run the same command again "
            "to grade the rest"
        )
        return
    for name in ("gradebook.csv", "report.html", "summary.json", "students/"):
        click.echo(f"  {out / name}")


@click.command(name="class")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the gradebook, report, scorecards and the cache (re-use it to resume).",
)
@click.option("--deadline", default=None, help="ISO time: grade each repo's last commit by it.")
@click.option("--ref", default=None, help="Branch, tag or commit to grade (default HEAD).")
@click.option("--exercises", "exercise_list", default=None, help="e.g. 1,3-5 (default: all).")
@click.option("--seed", type=int, default=None, help="One seed for the class (default: fresh).")
@click.option(
    "-j",
    "--jobs",
    "workers",
    type=click.IntRange(1, 512),
    default=None,
    help="Students graded at once (default: the cores).",
)
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786.")
@click.option("--force", is_flag=True, help="Regrade everything, ignoring the cache.")
@click.option(
    "--manifest",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The release manifest (<release>/.trainloop/manifest.json): flag students "
    "whose protected files differ.",
)
@click.option(
    "--sign-key",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Ed25519 private key (grade keys new): sign every student's scorecard.",
)
@click.option(
    "--template",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Stub folder subtracted before the similarity check (default: exercises/).",
)
@click.option("--no-similarity", is_flag=True, help="Skip the similar-submissions check.")
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True
)
@click.option(
    "--isolation",
    type=click.Choice(("auto", *MODES)),
    default="auto",
    show_default=True,
)
@click.option("--public-only", is_flag=True, help="Run only the public tests.")
@click.option("-k", "select", default=None, help="Only tests whose name matches (pytest -k).")
@click.option("--quiet", "-q", is_flag=True, help="One plain line per student (for logs).")
@_guard
def class_command(
    source: Path,
    out: Path,
    deadline: str | None,
    ref: str | None,
    exercise_list: str | None,
    seed: int | None,
    workers: int | None,
    engine: str,
    scheduler: str | None,
    force: bool,
    manifest: Path | None,
    sign_key: Path | None,
    template: Path | None,
    no_similarity: bool,
    device: str,
    isolation: str,
    public_only: bool,
    select: str | None,
    quiet: bool,
) -> int:
    """Regrade a class: every student's repository, one gradebook.

    SOURCE is a folder with one folder or git repository per student (what a classroom's
    "download all repositories" gives), or a CSV roster with the columns student,repo[,ref]
    (repo: a path or a git URL). Each student's exercises are found where `grade all` finds
    them (exercises/ or the repository root); a student whose files are not there is listed
    as not found, never given zeros. Re-running with the same --out grades only what changed.

    Exit codes: 0 every student graded, 1 some student not found or not graded, 2 bad input,
    130 interrupted (finished students are kept).
    """
    from grader.regrade import classrun, sources

    if scheduler and engine != "dask":
        raise GraderError("--scheduler is for --engine dask")
    when = None
    if deadline:
        try:
            when = sources.parse_deadline(deadline)
        except ValueError:
            raise GraderError(
                f"--deadline {deadline!r} is not an ISO-8601 time (e.g. 2026-03-01T23:59:00+01:00)"
            ) from None
    opts = classrun.ClassOptions(
        source=source,
        out=out,
        exercises=parse_exercises(exercise_list),
        deadline=when,
        ref=ref,
        seed=seed,
        workers=workers or _cores(),
        engine=engine,
        scheduler=scheduler,
        force=force,
        manifest=manifest,
        sign_key=sign_key,
        template=template,
        device=device,
        isolation=isolation,
        visibilities=("public",) if public_only else ("public", "hidden"),
        select=select,
        quiet=quiet,
        similarity=not no_similarity,
    )
    outcome = classrun.run(opts)
    _print_outcome(outcome, out)
    if outcome.interrupted:
        return interrupts.exit_code()
    c = outcome.summary.counts
    return EXIT_FAILED if c.not_found or c.errors else EXIT_PASSED


@click.group(name="keys")
def keys_group() -> None:
    """Signing keys for `grade class --sign-key`."""


@keys_group.command(name="new")
@click.option(
    "--out",
    "-o",
    "prefix",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("grader-signing.key"),
    show_default=True,
    help="Private key file; the public key goes next to it with .pub appended.",
)
@_guard
def keys_new(prefix: Path) -> int:
    """Make an Ed25519 key pair: keep the private key to yourself, publish the .pub."""
    from grader.regrade import signing

    public = prefix.with_name(prefix.name + ".pub")
    ident = signing.new_key_pair(prefix, public)
    click.echo(f"private key: {prefix} (keep it secret, outside the class folders)")
    click.echo(f"public key:  {public} (share it with TAs and students)  id {ident}")
    return EXIT_PASSED


@click.command(name="check-signature")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--public-key", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--signature",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The signature file (default: FILE.sig).",
)
@_guard
def check_signature(file: Path, public_key: Path, signature: Path | None) -> int:
    """Check that a student's scorecard is exactly what `grade class` signed."""
    from grader.regrade import signing

    try:
        signed = signing.verify_file(file, signing.load_public(public_key), signature)
    except GraderError as exc:
        if str(exc).startswith("INVALID"):
            click.echo(str(exc), err=True)
            return EXIT_FAILED
        raise
    click.echo(
        f"OK: {file} is unchanged since it was signed: {signed['student']}, commit "
        f"{signed['commit'] or '(folder)'}, {signed['score']:g}/{signed['max_score']:g}, "
        f"seed {signed['seed']}, grader {signed['grader_version']}, signed {signed['signed_at']}"
    )
    return EXIT_PASSED


COMMANDS = [class_command, keys_group, check_signature]
__all__ = ["COMMANDS", "EXIT_ERROR", "parse_exercises"]
