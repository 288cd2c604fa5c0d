"""``report.html``: the class at a glance, one self-contained file that reads offline.

Sections: who needs attention (not found, errors, flags), the score distribution, each
exercise's mean, per-test pass rates hardest first, the most frequent hints, similar pairs with
their matching code side by side, and every student's row. Charts are inline SVG
(:mod:`grader.regrade.charts`); there is no script and nothing is fetched. Everything that comes
from a student -- names, flags, code, messages -- is HTML-escaped.
"""

from __future__ import annotations

import statistics
from html import escape

from grader.regrade import charts
from grader.regrade.records import ClassSummary, StudentRecord
from grader.regrade.similarity import Match

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.n{text-align:right}
.warn{background:#fff3cd;border:1px solid #e0c36a;padding:.6em 1em}.chart{max-width:100%}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}pre{background:#f7f7f7;padding:.5em;
overflow:auto;font-size:12px;margin:0}.muted{color:#777}
"""
BINS = 10


def _percent(r: StudentRecord) -> float | None:
    if r.status != "graded" or not r.max:
        return None
    return 100.0 * (r.total or 0.0) / r.max


def _table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )  # fmt: skip
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def _header(s: ClassSummary) -> str:
    c = s.counts
    facts = [
        ("students", str(c.students)),
        ("graded", str(c.graded)),
        ("not found", str(c.not_found)),
        ("errors", str(c.errors)),
        ("flagged", str(c.flagged)),
        ("exercises", ", ".join(s.exercises)),
        ("seed", str(s.seed)),
        ("deadline", s.deadline or "none (HEAD or --ref)"),
        ("grader", f"{s.grader_version} ({s.grader_fingerprint[:12]})"),
        ("engine", s.engine + (f", {s.workers} workers" if s.workers else "")),
        ("graded at", s.started_at),
        ("cards", f"{c.cards_graded} graded, {c.cards_cached} from the cache"),
    ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    warn = ""
    if c.not_found or c.errors:
        warn = (
            f'<p class="warn">{c.not_found} student(s) not found and {c.errors} with errors '
            "have <b>no grade</b> in the gradebook (empty cells, not zeros): see Attention.</p>"
        )
    return f"<h1>Class report</h1>{warn}<table>{rows}</table>"


def _distribution(s: ClassSummary) -> str:
    values = [p for r in s.students if (p := _percent(r)) is not None]
    if not values:
        return "<h2>Score distribution</h2><p>No student was graded.</p>"
    counts = [0] * BINS
    for v in values:
        counts[min(int(v // (100 / BINS)), BINS - 1)] += 1
    labels = [f"{i * 10}-{i * 10 + 9}" if i < BINS - 1 else "90-100" for i in range(BINS)]
    chart = charts.histogram(counts, labels, title="Students by total score (%)")
    stats = (
        f"mean {statistics.mean(values):.1f}%, median {statistics.median(values):.1f}%, "
        f"{sum(v >= 99.999 for v in values)} full marks, {sum(v == 0 for v in values)} zero"
    )
    per_ex = []
    for ex in s.exercises:
        got = [r.scores[ex] / r.max_scores[ex] for r in s.students
               if r.status == "graded" and r.max_scores.get(ex)]  # fmt: skip
        if got:
            per_ex.append((ex, statistics.mean(got), f"{statistics.mean(got):.0%} mean"))
    ex_chart = charts.rates(per_ex, title="Mean score per exercise") if per_ex else ""
    return f"<h2>Score distribution</h2>{chart}<p>{stats}</p>{ex_chart}"


def _tests(s: ClassSummary) -> str:
    if not s.tests:
        return ""
    hardest = s.tests[:25]
    rows = [(f"{t.exercise}: {t.name}", t.rate, f"{t.passed}/{t.counted}") for t in hardest]
    chart = charts.rates(rows, title="Pass rate per test, hardest first")
    table = _table(
        ["exercise", "test", "passed", "rate"],
        [
            [escape(t.exercise), escape(t.name), f"{t.passed}/{t.counted}", f"{t.rate:.0%}"]
            for t in s.tests
        ],  # fmt: skip
        numeric={2, 3},
    )
    return (
        f"<h2>Tests, hardest first</h2>{chart}<details><summary>All {len(s.tests)} tests"
        f"</summary>{table}</details>"
    )


def _hints(s: ClassSummary) -> str:
    if not s.hints:
        return "<h2>Most frequent hints</h2><p>No hint was given.</p>"
    graded = max(s.counts.graded, 1)
    top = s.hints[:15]
    chart = charts.rates(
        [(f"{h.exercise}: {h.hint}", h.students / graded, f"{h.students} students") for h in top],
        title="Students who got each hint",
    )
    table = _table(
        ["students", "exercise", "hint"],
        [[str(h.students), escape(h.exercise), escape(h.hint)] for h in s.hints],
        numeric={0},
    )
    return f"<h2>Most frequent hints</h2>{chart}{table}"


def _attention(s: ClassSummary) -> str:
    rows = [
        [
            escape(r.student),
            escape(r.status),
            escape("; ".join(r.flags)),
            escape(r.notes[0] if r.notes else ""),
        ]  # fmt: skip
        for r in sorted(s.students, key=lambda r: r.student.lower())
        if r.flags or r.status != "graded"
    ]
    if not rows:
        return "<h2>Attention</h2><p>No flags: every student was graded, nothing flagged.</p>"
    return "<h2>Attention</h2>" + _table(["student", "status", "flags", "note"], rows)


def _excerpt(source: str, span: tuple[int, int]) -> str:
    lines = source.splitlines()
    first, last = span
    shown = [f"{n:4d}  {lines[n - 1]}" for n in range(first, min(last, len(lines)) + 1)]
    return escape("\n".join(shown))


def _similar(matches: list[Match]) -> str:
    if not matches:
        return "<h2>Similar submissions</h2><p>No pair of answers is suspiciously alike.</p>"
    parts = [
        "<h2>Similar submissions</h2><p>Winnowed fingerprints of normalised tokens (names, "
        "literals, comments and the shipped template do not count). A flag is a reason to "
        "look, not a verdict.</p>"
    ]
    for m in matches:
        parts.append(
            f"<h3>{escape(m.a)} and {escape(m.b)}: {escape(m.exercise)}, "
            f"{m.similarity:.0%} ({m.matched} fingerprints)</h3>"
        )
        for region in m.regions:
            parts.append(
                f'<div class="pair"><div><b>{escape(m.a)}</b> lines {region.a_lines[0]}-'
                f"{region.a_lines[1]}<pre>{_excerpt(m.a_source, region.a_lines)}</pre></div>"
                f"<div><b>{escape(m.b)}</b> lines {region.b_lines[0]}-{region.b_lines[1]}"
                f"<pre>{_excerpt(m.b_source, region.b_lines)}</pre></div></div>"
            )
    return "".join(parts)


def _students(s: ClassSummary) -> str:
    def score(r: StudentRecord, ex: str) -> str:
        return f"{r.scores[ex]:g}" if r.status == "graded" and ex in r.scores else ""

    rows = [
        [
            escape(r.student),
            escape((r.commit or "")[:12]),
            escape(r.status),
            *(score(r, ex) for ex in s.exercises),
            f"{r.total:g}/{r.max:g}" if r.status == "graded" else "",
        ]  # fmt: skip
        for r in sorted(s.students, key=lambda r: r.student.lower())
    ]
    head = ["student", "commit", "status", *s.exercises, "total"]
    numeric = set(range(3, 4 + len(s.exercises)))
    return "<h2>Students</h2>" + _table(head, rows, numeric=numeric)


def render(summary: ClassSummary, matches: list[Match]) -> str:
    body = "".join(
        [
            _header(summary),
            _attention(summary),
            _distribution(summary),
            _tests(summary),
            _hints(summary),
            _similar(matches),
            _students(summary),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Class report</title><style>{CSS}</style></head><body>{body}"
        f'<p class="muted">Written by grade class, trainloop-grader '
        f"{escape(summary.grader_version)}.</p></body></html>\n"
    )
