"""GitHub Actions: the Classroom autograding protocol, two annotations and a job summary.

The student workflow runs ``grade all --format classroom`` once. That step

- appends ``result=<base64 of the reporter JSON>`` to ``$GITHUB_OUTPUT``, which
  ``classroom-resources/autograding-grading-reporter@v1`` decodes (env ``<STEP ID>_RESULTS``);
- prints the report inside ``::stop-commands::<random token>`` ... ``::<token>::`` with every
  line neutralised, then the two annotations Classroom and its successors read;
- appends a Markdown summary (a table per exercise, then why tests failed) to
  ``$GITHUB_STEP_SUMMARY``.

**Reporter JSON (version 1).** ``status`` is ``pass``/``fail``/``error``; there is always at
least one test and ``max_score > 0``, even when grading crashed (the reporter crashes on a
payload without ``tests`` and ignores a runner whose ``max_score`` is 0).

**Equal, all-or-nothing weights.** Reporter v1 adds up ``tests[].score`` for the annotation
Classroom reads, but its log table shows (passing tests / all tests) x ``max_score``, so unequal
weights make the two disagree (reporter issue #10). Each scorecard test is therefore split into
units of the same size -- the greatest common divisor of every test's points, 1 for the
course's integer points -- so a 2-point test becomes two 1-point entries ``(1/2)``, ``(2/2)``,
both passing or both failing. Then passing/total x max equals the sum of scores and the log
agrees with the grade. Only if the points have no common unit small enough (more than
``MAX_UNITS`` entries) does it fall back to one entry per test with its real weight: the
annotation stays right and only the log table is off.
"""

# No ``from __future__ import annotations`` here: it would bind the module name ``annotations``,
# which is this module's public function of that name (every annotation below evaluates at
# runtime on Python 3.10).
import base64
import json
import math
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

from grader.judge.scorecard import Bundle, Scorecard, TestResult, write_text_atomic
from grader.platforms.common import cards, clip, counted, js_number, neutralise, points

MAX_UNITS = 2000
MESSAGE_LIMIT = 600  # characters of a failure message kept in the payload
OUTPUT_LIMIT = 900_000  # bytes of base64; GitHub keeps at most 1 MB of outputs per job
SUMMARY_LIMIT = 900_000  # bytes; GitHub accepts at most 1 MiB of step summary per step
SUMMARY_MESSAGE_LIMIT = 3000

MARK = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️"}


# -- the reporter payload ----------------------------------------------------------------------
def _unit(amounts: Iterable[float]) -> Fraction | None:
    """The largest weight every amount is a whole multiple of, or None if there is none."""
    fracs = []
    for x in amounts:
        if x <= 0:
            continue
        f = Fraction(x).limit_denominator(1000)
        if abs(float(f) - x) > 1e-9:
            return None
        fracs.append(f)
    if not fracs:
        return None
    denominator = math.lcm(*(f.denominator for f in fracs))
    return Fraction(math.gcd(*(int(f * denominator) for f in fracs)), denominator)


def _entry(
    name: str, status: str, score: float, message: str, filename: str, ms: int
) -> dict[str, Any]:
    return {
        "name": neutralise(name).replace("\n", " "),
        "status": status,
        "score": js_number(score),
        "message": neutralise(message),
        "test_code": "",
        "filename": filename,
        "line_no": 0,
        "duration": ms,
    }


def _status(t: TestResult) -> str:
    return "pass" if t.status == "passed" else "error" if t.status == "error" else "fail"


def _why(t: TestResult, limit: int) -> str:
    text = t.message + (f"\nhint: {t.hint}" if t.hint else "")
    return clip(text, limit) if limit > 0 else ""


def _display_path(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return Path(path).name


def reporter_payload(
    card: Scorecard | Bundle, *, message_limit: int = MESSAGE_LIMIT, split: bool = True
) -> dict[str, Any]:
    """The reporter's JSON for ``card``: equal, all-or-nothing entries where possible."""
    groups = [(c, counted(c)) for c in cards(card)]
    every = [t for _, tests in groups for t in tests]
    unit = _unit([x for t in every for x in (t.max_score, t.score)]) if split else None
    if unit is not None and sum(t.max_score for t in every) / unit > MAX_UNITS:
        unit = None
    entries: list[dict[str, Any]] = []
    max_score = 0.0
    for c, tests in groups:
        filename = _display_path(c.submission.path)
        for t in tests:
            label = f"{c.exercise}: {t.name}" + (" (hidden)" if t.visibility == "hidden" else "")
            ms = round(t.duration_s * 1000)
            if unit is None:
                entries.append(
                    _entry(label, _status(t), t.score, _why(t, message_limit), filename, ms)
                )
                max_score += t.max_score
                continue
            n, k = round(t.max_score / unit), round(t.score / unit)
            w = float(unit)
            for i in range(n):
                passed = i < k
                status = "pass" if passed else ("error" if t.status == "error" else "fail")
                first_failure = not passed and i == k
                entries.append(
                    _entry(
                        label + (f" ({i + 1}/{n})" if n > 1 else ""),
                        status,
                        w if passed else 0.0,
                        _why(t, message_limit) if first_failure else "",
                        filename,
                        ms if i == 0 else 0,
                    )
                )
                max_score += w
    statuses = {e["status"] for e in entries}
    overall = "error" if "error" in statuses else "fail" if "fail" in statuses else "pass"
    return {
        "version": 1,
        "status": overall,
        "max_score": js_number(max_score),
        "tests": entries,
    }


def encode(payload: Mapping[str, Any]) -> str:
    compact = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(compact.encode("utf-8")).decode("ascii")


def result_output(card: Scorecard | Bundle) -> tuple[dict[str, Any], str]:
    """The payload and its base64, shrunk (fewer message characters, then one entry per test)
    until it fits GitHub's output limit."""
    for limit, split in ((MESSAGE_LIMIT, True), (120, True), (0, True), (0, False)):
        payload = reporter_payload(card, message_limit=limit, split=split)
        encoded = encode(payload)
        if len(encoded) <= OUTPUT_LIMIT:
            break
    return payload, encoded


def reporter_points(payload: Mapping[str, Any]) -> tuple[float, float]:
    """Points and maximum as the reporter's NotifyClassroom adds them up."""
    if not payload.get("max_score"):
        return 0.0, 0.0
    return sum(t["score"] for t in payload["tests"]), payload["max_score"]


def _js(x: float) -> str:
    n = js_number(x)
    return str(n) if isinstance(n, int) else repr(n)


def annotations(payload: Mapping[str, Any]) -> list[str]:
    """The two annotations, exactly as the reporter writes them."""
    total, maximum = reporter_points(payload)
    report = json.dumps(
        {"totalPoints": js_number(total), "maxPoints": js_number(maximum)}, separators=(",", ":")
    )
    return [
        f"::notice title=Autograding complete::Points {_js(total)}/{_js(maximum)}",
        f"::notice title=Autograding report::{report}",
    ]


# -- the job summary ---------------------------------------------------------------------------
def _cell(text: str) -> str:
    import html

    return html.escape(" ".join(text.split()), quote=False).replace("|", "&#124;")


def _pre(text: str) -> str:
    import html

    return f"<pre>{html.escape(text, quote=False)}</pre>"


def step_summary(card: Scorecard | Bundle, *, message_limit: int = SUMMARY_MESSAGE_LIMIT) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: totals, a table per exercise, failure messages.

    Every piece of text from the scorecard is HTML-escaped: messages quote student output.
    """
    exs = cards(card)
    got = sum(t.score for c in exs for t in counted(c))
    of = sum(t.max_score for c in exs for t in counted(c))
    pct = f" ({100 * got / of:.0f}%)" if of else ""
    lines = [f"## Autograding: {points(got)}/{points(of)} points{pct}", ""]
    if len(exs) > 1:
        lines += ["| Exercise | Title | Points | Tests passed |", "|---|---|--:|--:|"]
        for c in exs:
            tests = counted(c)
            ok = sum(t.status == "passed" for t in tests)
            lines.append(
                f"| {MARK['passed'] if ok == len(tests) else MARK['failed']} {_cell(c.exercise)} "
                f"| {_cell(c.title)} | {points(sum(t.score for t in tests))}/"
                f"{points(sum(t.max_score for t in tests))} | {ok}/{len(tests)} |"
            )
        lines.append("")
    for c in exs:
        tests = counted(c)
        c_got, c_of = sum(t.score for t in tests), sum(t.max_score for t in tests)
        lines += [f"### {_cell(c.exercise)}: {_cell(c.title)} ({points(c_got)}/{points(c_of)})", ""]
        if c.submission.error:
            lines += ["**This submission could not be graded:**", "", _pre(c.submission.error), ""]
        failing = [t for t in tests if t.status != "passed"]
        if not failing:  # nothing to act on: fold the table away
            lines += [f"<details><summary>all {len(tests)} tests passed</summary>", ""]
        lines += ["| | Test | Points |", "|:-:|---|--:|"]
        for t in tests:
            hidden = " *(hidden)*" if t.visibility == "hidden" else ""
            lines.append(
                f"| {MARK[t.status]} | {_cell(t.name)}{hidden} | "
                f"{points(t.score)}/{points(t.max_score)} |"
            )
        if not failing:
            lines += ["", "</details>"]
        skipped = [t for t in c.tests if t.status == "skipped"]
        if skipped:
            reasons = "; ".join(sorted({_cell(t.message) for t in skipped}))
            lines += ["", f"{len(skipped)} test(s) skipped, not counted: {reasons}"]
        shown = {c.submission.error} if c.submission.error else set()
        if failing:
            lines += ["", "<details open><summary>Why tests failed</summary>", ""]
            for t in failing:
                lines.append(f"**{MARK[t.status]} {_cell(t.name)}**")
                lines.append("")
                if t.message in shown:
                    lines += ["(same reason as above)", ""]
                    continue
                shown.add(t.message)
                lines += [_pre(clip(t.message, message_limit)), ""]
                if t.hint:
                    lines += [f"*hint:* {_cell(t.hint)}", ""]
            lines += ["</details>"]
        lines.append("")
    return "\n".join(lines) + "\n"


def _fitted_summary(card: Scorecard | Bundle) -> str:
    for limit in (SUMMARY_MESSAGE_LIMIT, 300, 0):
        text = step_summary(card, message_limit=limit)
        if len(text.encode("utf-8")) <= SUMMARY_LIMIT:
            return text
    return text.encode("utf-8")[:SUMMARY_LIMIT].decode("utf-8", "ignore") + "\n\n(truncated)\n"


# -- putting it together -----------------------------------------------------------------------
def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def emit(
    card: Scorecard | Bundle,
    report: str,
    *,
    errors: Sequence[str] = (),
    out: IO[str],
    env: Mapping[str, str] | None = None,
    payload_path: Path | None = None,
) -> dict[str, Any]:
    """Write the step output, the job summary and the log for ``card``; return the payload.

    ``report`` is the human-readable report (plain text). It and ``errors`` quote student
    output, so they are printed neutralised *and* between ``::stop-commands::`` markers whose
    token is drawn after the student's code has finished running.
    """
    env = os.environ if env is None else env
    payload, encoded = result_output(card)
    if env.get("GITHUB_OUTPUT"):
        _append(env["GITHUB_OUTPUT"], f"result={encoded}\n")
    if env.get("GITHUB_STEP_SUMMARY"):
        _append(env["GITHUB_STEP_SUMMARY"], _fitted_summary(card))
    if payload_path is not None:
        write_text_atomic(payload_path, json.dumps(payload, indent=2) + "\n")
    token = secrets.token_hex(16)
    body = [report, *(f"error: {e}" for e in errors)]
    out.write(f"::stop-commands::{token}\n")
    out.write(neutralise("\n".join(body)) + "\n")
    out.write(f"::{token}::\n")
    if not env.get("GITHUB_OUTPUT"):
        out.write(
            "GITHUB_OUTPUT is not set (not running in GitHub Actions): no step output written"
            + (f"; the reporter payload is in {payload_path}" if payload_path else "")
            + "\n"
        )
    for line in annotations(payload):
        out.write(line + "\n")
    out.flush()
    return payload
