"""``gradebook.csv``: one row per student, ready for an LMS import.

Columns: ``student, commit, <one per exercise>, total, max, status, flags, isolation``. A
student who was not graded has empty score cells (an LMS reads "no grade", not zero) and a
status that says why. Cells are defused for spreadsheets: a value starting with ``=``, ``+``,
``-``, ``@`` or a control character is prefixed with ``'`` so a student's name or a flag can
never run as a formula (CSV injection).
"""

from __future__ import annotations

import csv
import io

from grader.regrade.records import StudentRecord

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    if text.startswith(FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def render(records: list[StudentRecord], exercises: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "commit", *exercises, "total", "max", "status", "flags",
                     "isolation"])  # fmt: skip
    for r in sorted(records, key=lambda r: r.student.lower()):
        graded = r.status == "graded"
        writer.writerow(
            [
                cell(r.student),
                cell(r.commit),
                *(cell(r.scores.get(e)) if graded else "" for e in exercises),
                cell(r.total) if graded else "",
                cell(r.max) if graded else "",
                r.status,
                cell("; ".join(r.flags)),
                cell(", ".join(r.isolation)),
            ]
        )
    return out.getvalue()
