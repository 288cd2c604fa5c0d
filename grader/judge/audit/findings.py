"""A finding, and where it is: lines, 1-based character columns, the code as written."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from grader.judge.audit import policy

CONSTRUCT_CHARS = 60
_LINES = re.compile(r"\r\n|\r|\n")  # the line ends Python's tokenizer knows (not \f or \v)


@dataclass(frozen=True)
class Finding:
    """One construct the audit does not allow, located and explained for the student.

    ``line``/``col`` count from 1; ``function`` is the top-level function or class the code is
    in (None at module level); ``rule`` groups findings: forbidden, extra, import, dynamic,
    private, runtime, unsafe-load, patch, unreadable.
    """

    line: int
    col: int
    construct: str
    why: str
    instead: str
    function: str | None
    rule: str = ""


def split_lines(source: str) -> list[str]:
    return _LINES.split(source)


def column(lines: list[str], line: int, offset: int) -> int:
    """1-based column in characters (``col_offset`` counts UTF-8 bytes)."""
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return len(text.encode("utf-8")[:offset].decode("utf-8", errors="replace")) + 1


def segment(lines: list[str], node: ast.AST) -> str:
    """The code of ``node`` as written, on its first line, shortened."""
    line = getattr(node, "lineno", 0)
    if not 0 < line <= len(lines):
        return type(node).__name__
    raw = lines[line - 1].encode("utf-8")
    start = getattr(node, "col_offset", 0)
    end = getattr(node, "end_col_offset", None)
    if getattr(node, "end_lineno", line) != line or end is None:
        end = len(raw)
    text = raw[start:end].decode("utf-8", errors="replace").strip()
    return text if len(text) <= CONSTRUCT_CHARS else text[: CONSTRUCT_CHARS - 3] + "..."


def unreadable(source: str, exc: BaseException) -> Finding:
    """The one finding of a file that does not parse (or nests past what can be read)."""
    line = getattr(exc, "lineno", None) or 1
    col = getattr(exc, "offset", None) or 1
    lines = split_lines(source)
    text = lines[min(line, len(lines)) - 1].strip()[:CONSTRUCT_CHARS]
    detail = getattr(exc, "msg", None) or type(exc).__name__
    return Finding(
        line=line,
        col=col,
        construct=text,
        why=f"{policy.UNREADABLE.why} ({detail})",
        instead=policy.UNREADABLE.instead,
        function=None,
        rule=policy.UNREADABLE.rule,
    )
