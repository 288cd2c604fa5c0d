"""Student stubs generated from the solutions, so the two can never drift apart.

A solution file marks each answer with a region::

    def clip_grad_norm(...) -> Tensor:
        \"\"\"docstring\"\"\"
        # BEGIN SOLUTION
        ...the answer...
        # END SOLUTION

The stub is the solution with two changes, and nothing else:

1. every region, markers included, becomes one line at the indentation of its ``BEGIN`` marker:
   ``raise NotImplementedError("exercise-N: write <name>")``, where ``<name>`` is the function
   the region is in, or ``Class.method`` for a method (a region inside a nested helper function
   names the function or method the student writes, not the helper);
2. top-level imports that only the removed answers used stay (the student needs them too) and
   get the comment ``# noqa: F401 (used by the solution bodies)``, so the stub stays
   ``ruff``-clean.

Docstrings, signatures, comments and formatting outside the regions are kept byte for byte.
The work is done on text lines located with ``tokenize`` (markers are whole-line comments, never
text inside a string) and ``ast`` (enclosing functions, imports); nothing is executed.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from grader.judge import exercises
from grader.judge.failures import GraderError

BEGIN = re.compile(r"^#+\s*BEGIN SOLUTION\s*$")
END = re.compile(r"^#+\s*END SOLUTION\s*$")
ANSWER_IMPORT = "# noqa: F401 (used by the solution bodies)"


class StubError(GraderError):
    """A solution file that cannot be turned into a stub (the message names file and line)."""


@dataclass(frozen=True)
class Region:
    begin: int  # 1-based line of the BEGIN marker
    end: int  # 1-based line of the END marker
    indent: str
    name: str  # what the student writes: "fn" or "Class.method"


def exercise_number(path: Path) -> int:
    parsed = exercises.parse_file_name(path.name)
    if parsed is None or parsed[2] != ".py":
        raise StubError(f"{path.name}: solution files are named exNN_<slug>.py")
    return parsed[0]


def solution_files(root: Path) -> list[Path]:
    """Every ``solutions/exNN_<slug>.py`` of the repository at ``root``, in exercise order."""
    folder = root / "solutions"
    found = folder.glob(exercises.file_glob())
    return sorted(p for p in found if exercises.parse_file_name(p.name))


def stub_path(root: Path, solution: Path) -> Path:
    return root / "exercises" / solution.name


def _marker_lines(source: str, filename: str) -> list[tuple[int, str, str]]:
    """(line, "begin"/"end", indentation) for every whole-line marker comment."""
    found = []
    lines = source.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type != tokenize.COMMENT:
                continue
            row, col = tok.start
            line = lines[row - 1]
            if line[:col].strip():
                continue  # a trailing comment after code is not a marker
            text = tok.string.strip()
            if BEGIN.match(text):
                found.append((row, "begin", line[:col]))
            elif END.match(text):
                found.append((row, "end", line[:col]))
            elif re.search(r"\b(begin|end)\W*solution\b", text, re.IGNORECASE):
                raise StubError(
                    f"{filename}:{row}: {text!r} looks like a solution marker but is not "
                    "exactly '# BEGIN SOLUTION' or '# END SOLUTION'"
                )
    except (tokenize.TokenError, SyntaxError) as exc:
        raise StubError(f"{filename}: cannot be tokenized: {exc}") from None
    return found


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _student_name(tree: ast.Module, line: int, filename: str) -> str:
    """The function (or ``Class.method``) the student writes, for a region at ``line``."""
    parents = _parents(tree)
    funcs = [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        and n.lineno < line <= (n.end_lineno or 0)
    ]
    if not funcs:
        raise StubError(
            f"{filename}:{line}: a solution region must be inside a function or method body "
            "(at module or class level the stub's raise would run on import)"
        )
    node: ast.FunctionDef | ast.AsyncFunctionDef = max(funcs, key=lambda n: n.lineno)
    # Climb out of helpers nested in the function the student writes (through any `if`,
    # `try` or `with` around it): the outermost def is the name the student knows.
    owners: list[str] = []
    current: ast.AST = node
    while current in parents:
        current = parents[current]
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node, owners = current, []
        elif isinstance(current, ast.ClassDef):
            owners.insert(0, current.name)
    names = [*owners, node.name]
    return ".".join(names)


def regions(source: str, filename: str) -> list[Region]:
    """The solution regions of ``source``, checked for balance and placement."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise StubError(f"{filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    out: list[Region] = []
    open_at: tuple[int, str] | None = None
    for row, kind, indent in _marker_lines(source, filename):
        if kind == "begin":
            if open_at is not None:
                raise StubError(f"{filename}:{row}: BEGIN SOLUTION inside the region of line "
                                f"{open_at[0]}; close it with '# END SOLUTION' first")  # fmt: skip
            open_at = (row, indent)
        else:
            if open_at is None:
                raise StubError(f"{filename}:{row}: END SOLUTION without a BEGIN SOLUTION")
            begin, begin_indent = open_at
            if indent != begin_indent:
                raise StubError(
                    f"{filename}:{row}: END SOLUTION is not indented like its BEGIN SOLUTION "
                    f"on line {begin}"
                )
            out.append(Region(begin, row, indent, _student_name(tree, begin, filename)))
            open_at = None
    if open_at is not None:
        raise StubError(f"{filename}:{open_at[0]}: BEGIN SOLUTION is never closed")
    return out


def _names_used(tree: ast.AST) -> set[str]:
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    for node in ast.walk(tree):  # names listed in __all__ count as used
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            used |= {
                e.value
                for e in ast.walk(node.value)
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            }
    return used


def _bound(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".")[0]


def _mark_answer_imports(stub: str, used_before: set[str]) -> str:
    """Mark top-level imports that only the removed answers used with ``ANSWER_IMPORT``."""
    tree = ast.parse(stub)
    used = _names_used(tree)
    lines = stub.splitlines()
    for node in tree.body:
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        unused = [a for a in node.names if _bound(a) not in used and _bound(a) in used_before]
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        rows = {node.lineno} if node.lineno == node.end_lineno else {a.lineno for a in unused}
        for row in rows if unused else ():
            if "noqa" not in lines[row - 1]:
                lines[row - 1] += f"  {ANSWER_IMPORT}"
    return "\n".join(lines) + ("\n" if stub.endswith("\n") else "")


def make_stub(source: str, number: int, filename: str = "<solution>") -> str:
    """The student stub for one solution file's text (see the module docstring for the rule)."""
    found = regions(source, filename)
    lines = source.splitlines()
    for region in reversed(found):
        message = f"exercise-{number}: write {region.name}"
        lines[region.begin - 1 : region.end] = [
            f'{region.indent}raise NotImplementedError("{message}")'
        ]
    stub = "\n".join(lines) + ("\n" if source.endswith("\n") else "")
    return _mark_answer_imports(stub, _names_used(ast.parse(source)))


def strip_markers(source: str, filename: str = "<solution>") -> str:
    """The solution without its marker lines (what students see when solutions are published)."""
    marker_rows = {row for row, _, _ in _marker_lines(source, filename)}
    lines = source.splitlines()
    kept = [line for i, line in enumerate(lines, 1) if i not in marker_rows]
    return "\n".join(kept) + ("\n" if source.endswith("\n") else "")


def stub_for(solution: Path) -> str:
    """The stub text for ``solution`` (a ``solutions/exNN_<slug>.py`` file)."""
    try:
        source = solution.read_text(encoding="utf-8")
    except OSError as exc:
        raise StubError(f"cannot read {solution}: {exc.strerror}") from None
    return make_stub(source, exercise_number(solution), str(solution))
