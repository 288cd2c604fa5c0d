"""The answer audit: no function in a release may be a solution in disguise.

Comparing text misses a copy whose variables were renamed or whose lines were re-wrapped, so
the comparison is on syntax trees. Every function (methods and nested functions included) is
*normalised*:

- its docstring is dropped, and the rest of its body is parsed (formatting and comments are
  gone with the text);
- every identifier -- arguments, locals, globals, imported modules -- becomes ``v0``, ``v1``,
  ... in order of first use, so ``grad``/``g`` or ``torch``/``th`` make no difference;
- every literal becomes a placeholder of its type, so ``1e-6``/``1e-8`` make no difference;
- annotations are dropped.

Attribute names (``.grad``, ``torch.linalg.vector_norm``) are kept: they are what a body does.

A shipped function *matches* a solution function when its normalised body equals the
solution's, or equals a contiguous run of the solution's statements holding at least half of
its syntax (the answer minus a guard clause), or contains the solution's whole body among its
own statements. Bodies smaller than :data:`MIN_NODES` syntax nodes (``return x + y``) are too
common to prove anything and are never compared.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.instructor import stubs

MIN_NODES = 16  # syntax nodes in a compared run of statements (contexts not counted)
SHARE = 0.5  # a run of a solution's statements counts when it holds this share of its nodes


@dataclass(frozen=True)
class Origin:
    """A solution function: where it is, for the audit's message."""

    file: str
    function: str
    line: int


@dataclass(frozen=True)
class Match:
    file: str  # the shipped file, relative to the release
    function: str
    line: int
    origin: Origin

    def __str__(self) -> str:
        return (
            f"{self.file}: function {self.function} (line {self.line}) matches the answer "
            f"{self.origin.function} in {self.origin.file} (line {self.origin.line})"
        )


def _canon(node: Any, names: dict[str, str]) -> str:
    """The canonical text of one syntax node (see the module docstring); ``names`` maps each
    identifier met so far to its placeholder."""
    if isinstance(node, list):
        return "[" + ",".join(_canon(x, names) for x in node) + "]"
    if not isinstance(node, ast.AST):
        return repr(node)  # operator names, import levels, ...
    if isinstance(node, ast.Name):
        return names.setdefault(node.id, f"v{len(names)}")
    if isinstance(node, ast.arg):
        return "arg " + names.setdefault(node.arg, f"v{len(names)}")
    if isinstance(node, ast.alias):
        return (
            "alias "
            + node.name
            + " "
            + names.setdefault(node.asname or node.name, f"v{len(names)}")
        )
    if isinstance(node, ast.Constant):
        return "#" + type(node.value).__name__
    if isinstance(node, ast.expr_context):
        return ""
    if isinstance(node, ast.AnnAssign):
        if node.value is None:
            return "Pass()"
        return f"Assign([{_canon(node.target, names)}],{_canon(node.value, names)})"
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        name = names.setdefault(node.name, f"v{len(names)}")
        parts = [name, _canon(node.decorator_list, names), _canon(node.args, names)]
        return f"def({','.join(parts)},{_canon(_body(node), names)})"
    fields = [
        _canon(value, names)
        for key, value in ast.iter_fields(node)
        if key not in ("annotation", "returns", "type_comment", "type_params")
    ]
    return f"{type(node).__name__}({','.join(fields)})"


def _body(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    """The statements of ``fn`` without its docstring."""
    body = list(fn.body)
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        body = body[1:]
    return body


def _size(statements: list[ast.stmt]) -> int:
    return sum(
        1
        for s in statements
        for n in ast.walk(s)
        if not isinstance(n, ast.expr_context | ast.operator | ast.cmpop | ast.unaryop)
    )


def normalised(statements: list[ast.stmt]) -> str:
    """A canonical text of ``statements``: equal for copies that differ only in names,
    literals, annotations and formatting."""
    names: dict[str, str] = {}
    return "\n".join(_canon(s, names) for s in statements)


def functions(tree: ast.AST) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function in ``tree`` with its qualified name (``Class.method``, ``f.<locals>.g``)."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, Any]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                yield name, child
                yield from walk(child, f"{name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def _runs(body: list[ast.stmt], least: int) -> Iterator[tuple[list[ast.stmt], int]]:
    """Contiguous runs of ``body`` (each with its size) holding at least ``least`` nodes."""
    sizes = [_size([s]) for s in body]
    for i in range(len(body)):
        total = 0
        for j in range(i, len(body)):
            total += sizes[j]
            if total >= least:
                yield body[i : j + 1], total


@dataclass
class Answers:
    """The solutions' functions, normalised, ready to be compared."""

    whole: dict[str, Origin]  # a solution's whole body
    parts: dict[str, Origin]  # runs of a solution's statements holding SHARE of its nodes
    sizes: set[int]  # the sizes of the whole bodies (a run of another size cannot match)

    @classmethod
    def of(cls, solutions: list[Path], root: Path) -> Answers:
        whole: dict[str, Origin] = {}
        parts: dict[str, Origin] = {}
        sizes: set[int] = set()
        for path in solutions:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=str(path))
            answer_lines = {r.begin for r in stubs.regions(source, str(path))}
            for name, fn in functions(tree):
                end = fn.end_lineno or fn.lineno
                if not any(fn.lineno <= line <= end for line in answer_lines):
                    continue  # code the stub keeps: no answer
                body = _body(fn)
                size = _size(body)
                if size < MIN_NODES:
                    continue
                origin = Origin(str(path.relative_to(root)), name, fn.lineno)
                whole.setdefault(normalised(body), origin)
                sizes.add(size)
                least = max(MIN_NODES, int(SHARE * size + 0.999))
                for run, _ in _runs(body, least):
                    if len(run) < len(body):
                        parts.setdefault(normalised(run), origin)
        return cls(whole, parts, sizes)

    def find(self, source: str, file: str) -> list[Match]:
        """The functions of ``source`` (the text of ``file``) that match an answer."""
        try:
            tree = ast.parse(source, filename=file)
        except SyntaxError:
            return []
        found = []
        for name, fn in functions(tree):
            body = _body(fn)
            if _size(body) < MIN_NODES:
                continue
            text = normalised(body)
            origin = self.whole.get(text) or self.parts.get(text)
            if origin is None:  # a solution's whole body among more statements
                for run, size in _runs(body, MIN_NODES):
                    if size in self.sizes:
                        origin = self.whole.get(normalised(run))
                        if origin is not None:
                            break
            if origin is not None:
                found.append(Match(file, name, fn.lineno, origin))
        return found
