"""Terminal rendering of a scorecard: one line per test, then what went wrong and why.

Messages quote student code (exception text, a crashed worker's last output), and the report
is often printed inside a CI job: every line is neutralised so none reads as a workflow
command.
"""

from __future__ import annotations

import click

from grader.judge.scorecard import Bundle, Scorecard

MARKS = {
    "passed": ("PASS", "green"),
    "failed": ("FAIL", "red"),
    "error": ("ERROR", "magenta"),
    "skipped": ("SKIP", "yellow"),
}


def neutralise(text: str) -> str:
    """``text`` with no line a GitHub Actions runner would take for a workflow command.

    The runner reads each output line, trims leading whitespace and runs it as a command if it
    starts with ``::`` (``::notice title=...::``); it also accepts the old ``##[command]`` form
    anywhere in a line. Lines are split on every line break Python knows (a superset of the
    runner's), a leading ``::`` becomes ``: :`` and every ``##[`` becomes ``## [``.
    """
    out = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("::"):
            line = line[: len(line) - len(stripped)] + ": :" + stripped[2:]
        out.append(line.replace("##[", "## ["))
    return "\n".join(out)


def _integrity(card: Scorecard) -> list[str]:
    """What the judge's source audit found, before the tests that it voided."""
    if card.integrity is None or not card.integrity.findings:
        return []
    found = card.integrity.findings
    head = f"{len(found)} construct{'s' if len(found) != 1 else ''} this exercise does not allow"
    lines = [click.style(f"integrity: {head} (read from your file before it ran):", fg="red")]
    for f in found[:12]:
        where = f"in {f.function}" if f.function else "at the top level"
        lines.append(f"  line {f.line} {where}: `{f.code}` - {f.why}")
        if f.instead:
            lines.append(click.style(f"      instead: {f.instead}", fg="cyan"))
    if len(found) > 12:
        lines.append(f"  ... and {len(found) - 12} more (all in the scorecard's integrity section)")
    return lines


def _points(x: float) -> str:
    return f"{x:g}"


WEAK = "isolation: process only - results are feedback, not a grade of record"


def isolation_warning(cards: list[Scorecard]) -> list[str]:
    """The report's first line when student code ran with less than bwrap or Landlock+seccomp."""
    weak = [
        c for c in cards if c.environment.isolation and c.environment.isolation_level == "process"
    ]
    if not weak:
        return []
    layers = weak[0].environment
    missing = [
        name
        for name, present in (
            ("bubblewrap", layers.isolation_mode == "bwrap"),
            ("Landlock", layers.landlock_abi > 0),
            ("seccomp", any(x.startswith("seccomp") for x in layers.isolation)),
        )
        if not present
    ]
    return [click.style(f"{WEAK} (missing: {', '.join(missing)})", fg="yellow", bold=True)]


def not_graded(card: Scorecard) -> str:
    """The first line of why ``card``'s submission could not be graded ("" when it was):
    repeated under the score, where it cannot scroll away."""
    error = (card.submission.error or "").strip()
    return error.splitlines()[0] if error else ""


def render(card: Scorecard, *, verbose: bool = False, warn: bool = True) -> str:
    """The terminal report of one exercise: every test, then why tests failed, then the score.

    A submission that could not be graded at all (a syntax error, a notebook that will not
    load, no file) gets its reason at the top and again under the score; its tests, which all
    fail for that one reason, are one line (each of them with ``verbose``)."""
    lines = isolation_warning([card]) if warn else []
    lines.append(click.style(f"{card.exercise} - {card.title}", bold=True))
    lines.append(f"submission: {card.submission.path}")
    if card.submission.error:
        lines.append(click.style("cannot grade this submission: ", fg="red", bold=True))
        lines += ["  " + line for line in card.submission.error.splitlines()]
    for note in card.submission.notes:
        lines.append(f"note: {note}")
    lines += _integrity(card)
    lines.append("")
    unrun = [t for t in card.tests if t.status != "skipped" and t.message == card.submission.error]
    folded = {id(t) for t in unrun} if card.submission.error and len(unrun) > 1 else set()
    if verbose:
        folded = set()
    if folded:
        label, color = MARKS["failed"]
        worth = _points(sum(t.max_score for t in unrun))
        lines.append(
            f"  {click.style(f'{label:<5}', fg=color)} {'0/' + worth:>7}  all {len(unrun)} "
            "tests: not run, the submission could not be graded (see above)"
        )
    for t in card.tests:
        if t.status == "skipped" and not verbose:
            continue
        if id(t) in folded:
            continue
        label, color = MARKS[t.status]
        pts = "" if t.status == "skipped" else f"{_points(t.score)}/{_points(t.max_score)}"
        vis = " (hidden)" if t.visibility == "hidden" else ""
        lines.append(f"  {click.style(f'{label:<5}', fg=color)} {pts:>7}  {t.name}{vis}")
        if t.status == "skipped":
            lines.append(f"                 {t.message}")
            continue
        if t.status == "passed":
            continue
        if card.submission.error and t.message == card.submission.error:
            continue  # already said once, above the tests
        for line in t.message.splitlines():
            lines.append(f"                 {line}")
        if t.hint:
            lines.append("                 " + click.style(f"hint: {t.hint}", fg="cyan"))
    skipped = sum(1 for t in card.tests if t.status == "skipped")
    pct = 100 * card.score / card.max_score if card.max_score else 0.0
    lines.append("")
    total = f"Score: {_points(card.score)}/{_points(card.max_score)} ({pct:.0f}%)"
    by_vis = []
    for vis in ("public", "hidden"):
        part = [t for t in card.tests if t.visibility == vis and t.status != "skipped"]
        if part:
            got = sum(t.score for t in part)
            of = sum(t.max_score for t in part)
            by_vis.append(f"{vis} {_points(got)}/{_points(of)}")
    extra = f"  [{', '.join(by_vis)}]" if by_vis else ""
    color = "green" if card.passed else "red"
    lines.append(click.style(total, bold=True, fg=color) + extra)
    if not_graded(card):
        lines.append(click.style(f"not graded: {not_graded(card)}", fg="red", bold=True))
    if skipped:
        reasons = sorted({t.message for t in card.tests if t.status == "skipped"})
        lines.append(f"{skipped} test(s) skipped, not counted: {'; '.join(reasons)}")
    env = card.environment
    lines.append(
        f"devices: {', '.join(env.devices_tested)} - isolation: {env.isolation_mode} "
        f"({env.isolation_level}) - seed {card.seed} - {card.duration_s:.1f} s"
    )
    return neutralise("\n".join(lines))


def render_bundle(bundle: Bundle, *, verbose: bool = False) -> str:
    """Every exercise's report, then a summary table with the grand total. When no exercise
    could be graded, for one reason (the folder does not exist, or holds no exercise file),
    that reason is said once, under the total, instead of ten times."""
    warning = isolation_warning(bundle.exercises)
    reasons = {not_graded(c) for c in bundle.exercises}
    shared = reasons.pop() if len(reasons) == 1 and len(bundle.exercises) > 1 else ""
    renders = [] if shared else [render(c, verbose=verbose, warn=False) for c in bundle.exercises]
    parts = [*warning, *renders]
    table = ["", click.style("Summary", bold=True)]
    width = max((len(c.title) for c in bundle.exercises), default=0)
    for c in bundle.exercises:
        why = f"  not graded: {not_graded(c)}" if not_graded(c) and not shared else ""
        table.append(
            f"  {c.exercise:<12} {c.title:<{width}} {_points(c.score):>6}/{_points(c.max_score)}"
            + why
        )
    pct = 100 * bundle.score / bundle.max_score if bundle.max_score else 0.0
    table.append(
        click.style(
            f"Total: {_points(bundle.score)}/{_points(bundle.max_score)} ({pct:.0f}%)", bold=True
        )
    )
    if shared:
        table.append(click.style(f"not graded: {shared}", fg="red", bold=True))
    return "\n\n".join(parts) + "\n" + neutralise("\n".join(table))
