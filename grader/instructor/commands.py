"""Instructor commands, registered on ``grade`` when this package is present.

``grade stubs`` (exercises from solutions), ``grade verify`` (everything passes or fails as it
should), ``grade release OUT_DIR`` (the student repository) and ``grade publish-solutions
OUT_DIR`` (solutions with the scorecards that prove them).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from grader.cli import EXIT_FAILED, EXIT_PASSED, _guard
from grader.judge.failures import GraderError
from grader.judge.sandbox.modes import MODES

if TYPE_CHECKING:  # imported lazily: `grade --help` should not load the judge
    from grader.judge.exercises import Exercise
    from grader.judge.runner import Options


def _exercises(names: tuple[str, ...]) -> list[Exercise]:
    from grader.judge import exercises

    if not names:
        return list(exercises.all_exercises())
    return [exercises.find(n) for n in names]


def _options(seed: int | None, isolation: str, device: str = "cpu") -> Options:
    from grader.judge.runner import Options

    return Options(device=device, seed=seed, isolation=isolation)


@click.command(name="stubs")
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 and list the files that have drifted."
)
@_guard
def stubs_command(check: bool) -> int:
    """Generate exercises/ (stub .py and notebook) from solutions/.

    Every `# BEGIN SOLUTION` ... `# END SOLUTION` region becomes
    `raise NotImplementedError("exercise-N: write <function>")`; imports only the answers used
    are dropped; docstrings and signatures stay. Each stub also gets a notebook
    (exercises/exNN_<slug>.ipynb) with the teaching text, the stubs and a cell that grades it.
    """
    from grader.instructor import sync

    root = sync.repo_root()
    if check:
        problems = sync.drift(root)
        for line in problems:
            click.echo(line)
        if problems:
            click.echo(f"run `{sync.REGENERATE}` to regenerate exercises/ from solutions/")
            return EXIT_FAILED
        click.echo("exercises/ matches solutions/")
        return EXIT_PASSED
    changed = sync.write(root)
    for path in changed:
        click.echo(f"wrote {path.relative_to(root)}")
    click.echo(f"{len(changed)} file(s) changed" if changed else "exercises/ was up to date")
    return EXIT_PASSED


@click.command(name="verify")
@click.option("--exercise", "-e", "names", multiple=True, help="Only this exercise (repeatable).")
@click.option("--seed", type=int, default=None, help="Seed for hidden tests' inputs.")
@click.option(
    "--isolation",
    type=click.Choice(("auto", *MODES)),
    default="auto",
    show_default=True,
    help="Sandbox for the graded files.",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=None,
    help="Also grade each solution and stub on the hidden tests at this many grade-time seeds "
    "(--seed and the ones after it): every seed must give the solution full marks and the "
    "stub zero. 200 before a release.",
)
@_guard
def verify_command(
    names: tuple[str, ...], seed: int | None, isolation: str, seeds: int | None
) -> int:
    """Check every exercise before a release; non-zero exit if anything is off.

    \b
    sync       exercises/ .py and .ipynb equal what `grade stubs` generates
    reference  reference/ passes every correctness test (forbidden-call detection off;
               timing checks, marked @pytest.mark.speed, and voided tests are not
               counted)
    solution   solutions/ get full marks (public and hidden tests)
    stub       exercises/ get zero, every test saying "not implemented"

    Then the files a release would ship are audited: no solution marker, hidden test name,
    reference import, or function that is a solution function under other names.

    With --seeds N, the solutions and stubs are then graded on the hidden tests at N seeds
    (S, S+1, ..., with S the --seed), one worker per file, and every seed where a solution
    is short of full marks or a stub scores is listed with its tests and the `grade` command
    that reproduces it.
    """
    from grader.instructor import release, sync, verify

    root = sync.repo_root()
    exercises = _exercises(names)
    if not exercises:
        raise GraderError("there are no exercises to verify (reference/ has no exNN_*.py)")
    opts = _options(seed, isolation)
    opts.resolved_seed()
    rows, seconds = verify.timed(
        lambda: verify.verify(root, exercises, opts, lambda m: click.echo(m, err=True))
    )
    click.echo(verify.table(rows))
    orphans = [] if names else verify.orphan_solutions(root, exercises)
    for line in orphans:
        click.echo(f"warning: {line}")
    leaks = release.audit_sources(root, exercises)
    for line in leaks:
        click.echo(f"release audit: {line}")
    ok = all(r.ok for r in rows) and not leaks
    verdict = "all good" if ok else "PROBLEMS FOUND"
    click.echo(f"\n{verdict}: {len(rows)} exercise(s) in {seconds:.1f} s (seed {opts.seed})")
    if seeds is not None:
        ok = _sweep(root, exercises, opts, seeds) and ok
    return EXIT_PASSED if ok else EXIT_FAILED


def _sweep(root: Path, exercises: list[Exercise], opts: Options, count: int) -> bool:
    """`grade verify --seeds`: the solutions and stubs on ``count`` seeds from ``opts.seed``."""
    from grader.instructor import sweep

    result = sweep.sweep(
        root,
        exercises,
        opts,
        sweep.seed_range(opts.resolved_seed(), count),
        lambda m: click.echo(m, err=True),
    )
    click.echo("\n" + sweep.report(result, root))
    if result.interrupted:
        click.echo(f"\nsweep interrupted after {result.seconds:.0f} s")
        raise KeyboardInterrupt  # the report is out; exit as an interrupted command does
    bad = len({(f.exercise.id, x.seed) for f in result.files for x in f.failures})
    verdict = "every seed is fair" if result.ok else f"PROBLEMS FOUND ({bad} exercise-seed(s))"
    click.echo(f"\n{verdict}: {len(result.seeds)} seed(s) swept in {result.seconds:.0f} s")
    return result.ok


@click.command(name="release")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--force",
    is_flag=True,
    help="Update OUT_DIR in place if it holds an earlier release (only files that release "
    "wrote are replaced or removed).",
)
@click.option(
    "--exercise",
    "-e",
    "names",
    multiple=True,
    help="Release only this exercise (repeatable); default: all of them.",
)
@click.option(
    "--isolation",
    type=click.Choice(("auto", *MODES)),
    default="auto",
    show_default=True,
    help="Sandbox for the solutions graded to record the public tests' answers.",
)
@_guard
def release_command(out_dir: Path, force: bool, names: tuple[str, ...], isolation: str) -> int:
    """Build (or update) the student repository in OUT_DIR.

    It holds the exercises (.py and notebooks), the grader with its public tests only, the
    answers those tests compare with (recorded by grading the solutions here: no reference
    code ships), a README, pyproject.toml, .gitignore, the classroom workflow when there is
    one, and .trainloop/manifest.json listing every file it wrote. No hidden test, solution,
    reference or instructor command goes in; the finished tree is audited for them (and for
    functions that are solutions under other names) and the release fails if any slipped
    through. With --force an earlier release is updated in place: .git, .venv and other files
    it did not write are left alone, and uncommitted changes to its files stop it (exit 2).
    """
    from grader.instructor import release, sync

    root = sync.repo_root()
    built = release.build(
        root,
        out_dir,
        force=force,
        only=_exercises(names) if names else None,
        isolation=isolation,
        progress=lambda m: click.echo(m, err=True),
    )
    size = sum(p.stat().st_size for p in built.files)
    click.echo(
        f"wrote {len(built.files)} files ({size / 1024:.0f} KiB, of which recorded answers "
        f"{built.expected_bytes / 1024:.0f} KiB) to {out_dir}"
    )
    if built.removed:
        click.echo(f"removed {len(built.removed)} file(s) of the previous release")
    if not (out_dir / ".git").exists():
        click.echo(f"next: cd {out_dir} && git init && git add -A && git commit -m 'Exercises'")
    return EXIT_PASSED


@click.command(name="publish-solutions")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True, help="Replace OUT_DIR if it holds earlier solutions.")
@click.option(
    "--reveal-hidden-names",
    is_flag=True,
    help="Keep hidden tests' names in the published scorecards (default: numbered only).",
)
@click.option("--seed", type=int, default=None, help="Seed for hidden tests' inputs.")
@click.option("--exercise", "-e", "names", multiple=True, help="Only this exercise (repeatable).")
@_guard
def publish_command(
    out_dir: Path, force: bool, reveal_hidden_names: bool, seed: int | None, names: tuple[str, ...]
) -> int:
    """After the deadline: write the solutions (.py and notebook) to OUT_DIR.

    Each file is graded (public and hidden tests) and its scorecard is written next to it
    (exNN_<slug>.scorecard.json, exNN_<slug>.ipynb.scorecard.json). Hidden tests appear only
    as numbered entries unless --reveal-hidden-names is given. Exit 1 if any solution does not
    get full marks.
    """
    from grader.instructor import publish, sync

    root = sync.repo_root()
    results = publish.publish(
        root,
        out_dir,
        _options(seed, "auto"),
        force=force,
        reveal_hidden=reveal_hidden_names,
        only=_exercises(names) if names else None,
    )
    for line in publish.summary(results):
        click.echo(line)
    if any(not r.full_marks for r in results):
        click.echo("some solutions did not get full marks: see the scorecards", err=True)
        return EXIT_FAILED
    click.echo(f"published {len(results)} file(s) to {out_dir}")
    return EXIT_PASSED


@click.command(name="new")
@click.argument("number", type=click.IntRange(1, 99))
@click.argument("slug")
@click.option("--title", default=None, help="The exercise title (default: from the slug).")
@_guard
def new_command(number: int, slug: str, title: str | None) -> int:
    """Start exercise NUMBER (e.g. `grade new 11 batch_norm`): write its solution, reference
    and public and hidden suites with one working example function, then its stub and
    notebook. `grade verify -e NUMBER` passes at once; replace the example with the exercise."""
    from grader.instructor import scaffold, sync
    from grader.judge import exercises

    root = sync.repo_root()
    written = scaffold.scaffold(root, number, slug, title)
    exercises.all_exercises.cache_clear()
    written += sync.write(root)
    for path in written:
        click.echo(f"wrote {path.relative_to(root)}")
    click.echo(
        f"next: fill in solutions/ex{number:02d}_{slug}.py (answers between the solution "
        f"markers) and reference/ex{number:02d}_{slug}.py, write the suites, then run "
        f"`grade stubs` and `grade verify -e {number}` (see docs/adding-an-exercise.md)"
    )
    return EXIT_PASSED


COMMANDS = [stubs_command, verify_command, release_command, publish_command, new_command]
