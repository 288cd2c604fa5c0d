"""Pairs of students whose answers are suspiciously alike: winnowing, as MOSS and JPlag do.

Each answer is tokenised with Python's own tokenizer and normalised so that renaming
variables, reformatting, editing comments or docstrings changes nothing: every identifier
becomes ``V`` (attribute names such as ``mul_`` stay: they are what the code does), numbers
``N``, strings ``S``; comments, docstrings and indentation tokens are dropped. Hashes of every
run of ``K`` tokens are *winnowed* (the smallest hash of each window of ``W``), which keeps a
few fingerprints per passage and guarantees that any shared run of ``K + W - 1`` tokens is seen
(Schleimer, Wilkerson and Aiken, "Winnowing", SIGMOD 2003).

Fingerprints that also occur in the shipped template (the stub: signatures, docstrings, the
``raise NotImplementedError`` lines) are dropped, and so are passages that many students share
(an idiom, not a copy), as MOSS's ``-m`` does. A pair is flagged when, for one exercise, most
of the smaller answer's fingerprints are in the other and the match is long enough to mean
something.

Student code is only read here, as text; nothing is imported or run.
"""

from __future__ import annotations

import hashlib
import io
import keyword
import tokenize
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations

K = 12  # tokens per hashed run
W = 8  # winnowing window: any shared run of K + W - 1 = 19 tokens is caught
THRESHOLD = 0.6  # share of the smaller answer's fingerprints found in the other
MIN_MATCHED = 8  # fingerprints in common (about 40 tokens): short answers prove nothing
COMMON_AT_LEAST = 10  # a passage shared by more students than this (or 10% of them) is an idiom
SKIP = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}
STATEMENT_START = {"", "\n", "INDENT", "DEDENT"}


@dataclass
class Tokens:
    text: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


def normalise(source: str) -> Tokens:
    """The normalised tokens of ``source`` and the line each starts on (best effort on
    code that does not tokenize to the end)."""
    out = Tokens()
    previous, dropped = "", False
    raw = list(_raw_tokens(source))
    for i, tok in enumerate(raw):
        kind, text = tok.type, tok.string
        if kind in (tokenize.INDENT, tokenize.DEDENT):
            previous = tokenize.tok_name[kind]
            continue
        if kind in SKIP:
            continue
        name = tokenize.tok_name.get(kind, "")
        if name.startswith("FSTRING") or name.startswith("TSTRING"):
            if name.endswith("START"):
                out.text.append("S")
                out.lines.append(tok.start[0])
                previous = "S"
            continue
        if kind == tokenize.STRING and previous in STATEMENT_START and _ends_statement(raw, i):
            dropped = True  # a docstring or a bare string statement, and its NEWLINE
            continue
        if kind == tokenize.NEWLINE and dropped:
            dropped = False
            continue
        if kind == tokenize.NAME and not keyword.iskeyword(text):
            text = text if previous == "." else "V"
        elif kind == tokenize.NUMBER:
            text = "N"
        elif kind == tokenize.STRING:
            text = "S"
        elif kind == tokenize.NEWLINE:
            text = "\n"
        out.text.append(text)
        out.lines.append(tok.start[0])
        previous = text
    return out


def _raw_tokens(source: str) -> list[tokenize.TokenInfo]:
    found: list[tokenize.TokenInfo] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            found.append(tok)
    except (tokenize.TokenError, SyntaxError):
        pass  # a syntax error: compare what came before it
    return found


def _ends_statement(raw: list[tokenize.TokenInfo], i: int) -> bool:
    for tok in raw[i + 1 :]:
        if tok.type in (tokenize.COMMENT, tokenize.NL):
            continue
        return tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER)
    return True


def _hash(run: list[str]) -> int:
    return int.from_bytes(hashlib.blake2b(" ".join(run).encode(), digest_size=8).digest(), "big")


def kgram_hashes(tokens: Tokens) -> list[int]:
    return [_hash(tokens.text[i : i + K]) for i in range(len(tokens.text) - K + 1)]


def winnow(hashes: list[int]) -> dict[int, list[int]]:
    """Winnowed fingerprints: hash -> the token positions where it was selected."""
    chosen: dict[int, list[int]] = defaultdict(list)
    last = -1
    if 0 < len(hashes) < W:
        pos = min(range(len(hashes)), key=lambda j: (hashes[j], -j))
        return {hashes[pos]: [pos]}
    for start in range(len(hashes) - W + 1):
        window = range(start, start + W)
        pos = min(window, key=lambda j: (hashes[j], -j))  # the rightmost minimum
        if pos != last:
            chosen[hashes[pos]].append(pos)
            last = pos
    return dict(chosen)


@dataclass
class Answer:
    """One student's answer to one exercise, fingerprinted."""

    student: str
    exercise: str
    source: str
    tokens: Tokens
    prints: dict[int, list[int]]


def fingerprint(student: str, exercise: str, source: str, template: set[int]) -> Answer:
    tokens = normalise(source)
    prints = {h: p for h, p in winnow(kgram_hashes(tokens)).items() if h not in template}
    return Answer(student, exercise, source, tokens, prints)


def template_hashes(source: str) -> set[int]:
    """Every K-gram hash of the shipped template (not only the winnowed ones)."""
    return set(kgram_hashes(normalise(source)))


@dataclass
class Region:
    a_lines: tuple[int, int]
    b_lines: tuple[int, int]


@dataclass
class Match:
    a: str
    b: str
    exercise: str
    similarity: float  # share of the smaller answer's fingerprints found in the other
    matched: int  # fingerprints in common
    regions: list[Region]
    a_source: str
    b_source: str


def _lines(answer: Answer, positions: list[int]) -> tuple[int, int]:
    first = min(positions)
    last = min(max(positions) + K - 1, len(answer.tokens.lines) - 1)
    return answer.tokens.lines[first], answer.tokens.lines[last]


def _regions(a: Answer, b: Answer, shared: set[int]) -> list[Region]:
    """Matching passages: runs of shared fingerprints that follow each other in both files."""
    pairs = sorted((a.prints[h][0], b.prints[h][0]) for h in shared)
    groups: list[list[tuple[int, int]]] = []
    for pa, pb in pairs:
        if groups:
            la, lb = groups[-1][-1]
            if pa - la <= K + W and 0 <= pb - lb <= K + W:
                groups[-1].append((pa, pb))
                continue
        groups.append([(pa, pb)])
    return [
        Region(_lines(a, [p for p, _ in g]), _lines(b, [p for _, p in g]))
        for g in groups
        if len(g) >= 2 or len(groups) == 1
    ]


def compare(a: Answer, b: Answer, ignore: set[int]) -> Match | None:
    """The match between two answers to one exercise, when it is suspicious."""
    mine, theirs = set(a.prints) - ignore, set(b.prints) - ignore
    if not mine or not theirs:
        return None
    shared = mine & theirs
    similarity = len(shared) / min(len(mine), len(theirs))
    if len(shared) < MIN_MATCHED or similarity < THRESHOLD:
        return None
    return Match(
        a.student,
        b.student,
        a.exercise,
        round(similarity, 3),
        len(shared),
        _regions(a, b, shared),
        a.source,
        b.source,
    )


def similar_pairs(answers: list[Answer]) -> list[Match]:
    """Every suspicious pair, most alike first."""
    by_exercise: dict[str, list[Answer]] = defaultdict(list)
    for answer in answers:
        by_exercise[answer.exercise].append(answer)
    found = []
    for group in by_exercise.values():
        holders: dict[int, set[str]] = defaultdict(set)
        for answer in group:
            for h in answer.prints:
                holders[h].add(answer.student)
        common_at = max(COMMON_AT_LEAST, len(group) // 10)
        ignore = {h for h, who in holders.items() if len(who) > common_at}
        candidates: set[tuple[int, int]] = set()
        owners: dict[str, list[int]] = defaultdict(list)
        for i, answer in enumerate(group):
            owners[answer.student].append(i)
        for h, who in holders.items():  # only pairs that share something are compared
            if h in ignore or len(who) < 2:
                continue
            members = sorted(i for s in who for i in owners[s])
            candidates.update(combinations(members, 2))
        for i, j in sorted(candidates):
            match = compare(group[i], group[j], ignore)
            if match is not None:
                found.append(match)
    return sorted(found, key=lambda m: (-m.similarity, m.exercise, m.a, m.b))
