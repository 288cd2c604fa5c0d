"""A Jupyter notebook, read as text and turned into the ``.py`` module the worker imports.

Nothing in the notebook runs here: the JSON is parsed, each code cell is parsed with ``ast``,
and the statements that *define* things are copied out:

- imports (of modules installed where the grader runs), function and class definitions;
- assignments of simple constants to plain names (``EPS = 1e-6``, ``Params = list[Tensor]``,
  ``INF = float("inf")``): literals, names defined above, attribute and subscript access,
  operators, lambdas -- nothing that calls code other than ``float``/``int``/... of literals.

Everything else at the top level of a cell -- calls, prints, plots, training runs, loops,
``if``/``with`` blocks, attribute assignments such as ``w.grad = ...`` -- is a demo: it is left
out and counted, and the scorecard says from which cells. IPython magics (``%time``,
``%%timeit`` cells) and shell lines (``!pip install``) are ignored. A cell that is not valid
Python gets one message naming the cell.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import json
import re
from dataclasses import dataclass, field
from typing import cast

MAX_NOTEBOOK_BYTES = 64 << 20
# Expressions nested deeper than this (``1 + 1 + ... + 1``, 1,000 terms) are not read further:
# the notebook is refused with a message naming the cell, rather than exhausting the stack.
MAX_EXPRESSION_DEPTH = 200
SAFE_CALLS = frozenset({"float", "int", "complex", "bool", "str", "bytes", "frozenset", "tuple"})
_MAGIC = re.compile(r"^\s*(%|!|[\w.]+\?{1,2}\s*$|\?{1,2}[\w.])")  # %magic, !shell, obj?, ?obj
_ASSIGNED_MAGIC = re.compile(r"^\s*[\w.]+(\s*,\s*[\w.]+)*\s*=\s*[%!]")  # files = !ls
_BUILTINS = frozenset(dir(builtins))


class NotebookError(Exception):
    """The notebook cannot be read or parsed; the message says how to fix it."""


class _TooDeep(Exception):
    """An expression nested deeper than the grader reads."""


@dataclass
class Converted:
    source: str  # the module text the worker imports
    notes: list[str] = field(default_factory=list)
    skipped: dict[int, int] = field(default_factory=dict)  # cell number -> statements left out
    magics: dict[int, int] = field(default_factory=dict)  # cell number -> magic/shell lines


def _cells(data: bytes, name: str) -> list[tuple[int, str]]:
    """(cell number counting from 1, source) for every code cell, from notebook JSON."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotebookError(f"{name} is not a Jupyter notebook: it is not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except RecursionError:
        raise NotebookError(
            f"{name} is not a readable Jupyter notebook: its JSON is nested too deeply. "
            "Open it in Jupyter and save it again, or restore it from git"
        ) from None
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"{name} is not a readable Jupyter notebook: its JSON is broken at line "
            f"{exc.lineno}, column {exc.colno} ({exc.msg}). Open it in Jupyter and save it "
            "again, or restore it from git; a .py file can be graded instead"
        ) from None
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if cells is None and isinstance(doc, dict) and isinstance(doc.get("worksheets"), list):
        sheets = doc["worksheets"]  # nbformat 3
        cells = [c for s in sheets if isinstance(s, dict) for c in s.get("cells") or []]
    if not isinstance(cells, list):
        raise NotebookError(f"{name} is JSON but not a Jupyter notebook (it has no list of cells)")
    out = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"{name}: cell {number} has no readable source text")
        out.append((number, source))
    return out


def _parse(source: str) -> ast.Module:
    """Parse a cell as Jupyter does: top-level ``await`` is allowed (and left out later)."""
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    # typeshed's compile() returns Any; with PyCF_ONLY_AST and mode "exec" it is an ast.Module.
    return cast(ast.Module, compile(source, "<cell>", "exec", flags=flags, dont_inherit=True))


def _strip_magics(source: str) -> tuple[str, int]:
    """Blank out IPython magic, shell and help lines (an indented one becomes ``pass``)."""
    try:
        _parse(source)
        return source, 0  # valid Python as it stands: nothing to strip
    except SyntaxError:
        pass
    lines, count = source.splitlines(), 0
    for i, line in enumerate(lines):
        if _MAGIC.match(line) or _ASSIGNED_MAGIC.match(line):
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = f"{indent}pass" if indent else ""
            count += 1
    return "\n".join(lines), count


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:60]
    return ""


class _Keeper:
    """Decides which top-level statements define things; tracks the names defined so far."""

    def __init__(self) -> None:
        self.defined: set[str] = set()
        self.star = False  # after ``from x import *`` any name may exist
        self.future_annotations = False
        self.missing: list[str] = []  # modules imported but not installed here

    def known(self, name: str) -> bool:
        return self.star or name in self.defined or name in _BUILTINS

    def simple(self, node: ast.AST | None, depth: int = 0) -> bool:
        """An expression that only reads constants and names already defined."""
        if depth > MAX_EXPRESSION_DEPTH:
            raise _TooDeep
        depth += 1
        if node is None or isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return self.known(node.id)
        if isinstance(node, ast.Attribute):
            return self.simple(node.value, depth)
        if isinstance(node, ast.Subscript):
            return self.simple(node.value, depth) and self.simple(node.slice, depth)
        if isinstance(node, ast.Slice):
            return all(self.simple(p, depth) for p in (node.lower, node.upper, node.step))
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return all(self.simple(e, depth) for e in node.elts)
        if isinstance(node, ast.Dict):
            return all(self.simple(k, depth) for k in node.keys) and all(
                self.simple(v, depth) for v in node.values
            )
        if isinstance(node, ast.UnaryOp):
            return self.simple(node.operand, depth)
        if isinstance(node, ast.BinOp):
            return self.simple(node.left, depth) and self.simple(node.right, depth)
        if isinstance(node, ast.BoolOp):
            return all(self.simple(v, depth) for v in node.values)
        if isinstance(node, ast.Compare):
            return self.simple(node.left, depth) and all(
                self.simple(c, depth) for c in node.comparators
            )
        if isinstance(node, ast.Lambda):  # the body runs only when called
            args = node.args
            return all(self.simple(d, depth) for d in [*args.defaults, *args.kw_defaults])
        if isinstance(node, ast.JoinedStr):
            return all(
                self.simple(v.value if isinstance(v, ast.FormattedValue) else v, depth)
                for v in node.values
            )
        if isinstance(node, ast.Call):
            return (
                isinstance(node.func, ast.Name)
                and node.func.id in SAFE_CALLS
                and node.func.id not in self.defined
                and all(isinstance(a, ast.Constant) for a in node.args)
                and not node.keywords
            )
        return False

    def keep(self, node: ast.stmt) -> bool:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return self._import(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.defined.add(node.name)
            return True
        if isinstance(node, ast.Assign):
            names = [n for t in node.targets for n in _target_names(t)]
            if names and all(n is not None for n in names) and self.simple(node.value):
                self.defined.update(n for n in names if n)
                return True
            return False
        if isinstance(node, ast.AnnAssign):
            annotation_ok = self.future_annotations or self.simple(node.annotation)
            if isinstance(node.target, ast.Name) and annotation_ok and self.simple(node.value):
                if node.value is not None:
                    self.defined.add(node.target.id)
                return True
            return False
        return False

    def _import(self, node: ast.Import | ast.ImportFrom) -> bool:
        if isinstance(node, ast.ImportFrom):
            if node.level or not node.module:
                return False  # relative imports have no package to come from in a notebook
            if node.module == "__future__":
                if any(a.name == "annotations" for a in node.names):
                    self.future_annotations = True
                return True
            if not _installed(node.module):
                self.missing.append(node.module)
                return False
            for alias in node.names:
                if alias.name == "*":
                    self.star = True
                else:
                    self.defined.add(alias.asname or alias.name)
            return True
        missing = [a.name for a in node.names if not _installed(a.name)]
        if missing:
            self.missing.extend(missing)
            return False
        self.defined.update(a.asname or a.name.split(".")[0] for a in node.names)
        return True


def _target_names(target: ast.expr) -> list[str | None]:
    """Plain names assigned by ``target``; ``None`` for anything else (``w.grad``, ``d[k]``)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in _target_names(e)]
    return [None]


def _installed(module: str) -> bool:
    """Whether the top-level package of ``module`` can be found (found, not imported)."""
    top = module.split(".")[0]
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _is_noop(node: ast.stmt) -> bool:
    """Statements with no effect, not worth reporting as skipped (``pass``, a bare string)."""
    return isinstance(node, ast.Pass) or (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    )


def _segment(lines: list[str], node: ast.stmt, shares_line: bool) -> str:
    if shares_line:  # ``x = 1; print(x)``: keep just this statement
        return ast.unparse(node)
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return "\n".join(lines[start - 1 : node.end_lineno])


def _cells_list(numbers: list[int]) -> str:
    label = "cell" if len(numbers) == 1 else "cells"
    return f"{label} {', '.join(str(n) for n in numbers)}"


def _convert_cell(
    number: int,
    raw: str,
    name: str,
    keeper: _Keeper,
    out: Converted,
    futures: list[str],
    body: list[str],
) -> None:
    """Parse one code cell and copy its definitions into ``body`` (or raise NotebookError)."""
    first = _first_line(raw)
    source, magics = _strip_magics(raw)
    if magics:
        out.magics[number] = magics
    try:
        tree = _parse(source)
    except SyntaxError as exc:
        line = (exc.text or "").rstrip()
        shown = f"\n    {line.strip()}" if line.strip() else ""
        raise NotebookError(
            f"{name}: cell {number} (starting `{first}`) has a syntax error on its line "
            f"{exc.lineno}: {exc.msg}{shown}\nrun that cell in Jupyter to see the error, "
            "fix it, save the notebook and grade again"
        ) from None
    except ValueError as exc:  # null bytes
        raise NotebookError(f"{name}: cell {number} cannot be parsed: {exc}") from None
    lines = source.splitlines()
    kept: list[str] = []
    for i, node in enumerate(tree.body):
        shares = (i > 0 and tree.body[i - 1].end_lineno == node.lineno) or (
            i + 1 < len(tree.body) and tree.body[i + 1].lineno == node.end_lineno
        )
        if keeper.keep(node):
            text = _segment(lines, node, shares)
            is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
            (futures if is_future else kept).append(text)
        elif not _is_noop(node):
            out.skipped[number] = out.skipped.get(number, 0) + 1
    if kept:
        body += [f"# --- notebook cell {number} ---", *kept, ""]


def notebook_to_python(data: bytes, name: str) -> Converted:
    """The module text for the notebook ``data`` (file name ``name``), or a NotebookError."""
    keeper = _Keeper()
    out = Converted(source="")
    futures: list[str] = []
    body: list[str] = []
    for number, raw in _cells(data, name):
        first = _first_line(raw)
        if first.startswith("%%"):
            out.magics[number] = out.magics.get(number, 0) + 1
            out.skipped[number] = out.skipped.get(number, 0) + 1
            continue  # a cell magic (%%time, %%bash): the whole cell is IPython's
        try:
            _convert_cell(number, raw, name, keeper, out, futures, body)
        except (_TooDeep, RecursionError, MemoryError):
            raise NotebookError(
                f"{name}: cell {number} (starting `{first}`) is nested too deeply for the "
                "grader to read (an expression or block thousands of levels deep); split it "
                "into smaller steps, save the notebook and grade again"
            ) from None
    header = f"# Converted from {name} by the grader: definitions only, nothing was run."
    out.source = "\n".join([header, *dict.fromkeys(futures), "", *body]).rstrip() + "\n"
    if out.skipped:
        n = sum(out.skipped.values())
        out.notes.append(
            f"{name}: {n} top-level statement{'s' if n != 1 else ''} not run when grading "
            f"({_cells_list(sorted(out.skipped))}): calls, prints, plots and other demos only "
            "run in your notebook; imports, functions, classes and simple constants are graded"
        )
    if keeper.missing:
        modules = ", ".join(dict.fromkeys(m.split(".")[0] for m in keeper.missing))
        out.notes.append(
            f"{name}: left out imports of modules that are not installed where the grader "
            f"runs ({modules}); graded code must not need them"
        )
    if out.magics:
        n = sum(out.magics.values())
        out.notes.append(
            f"{name}: ignored {n} IPython magic or shell line{'s' if n != 1 else ''} "
            f"({_cells_list(sorted(out.magics))})"
        )
    return out
