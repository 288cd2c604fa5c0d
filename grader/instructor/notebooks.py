"""Notebooks made from an exercise module (the stub, or the published solution).

Layout, for a module ``exNN_<slug>.py``:

1. a markdown cell from the module docstring (its first line becomes the title), and one that
   says how the notebook is graded;
2. a code cell with the imports and constants before the first function;
3. per top-level function or class: a markdown heading, a code cell with its full source
   (signature, docstring, stub or answer), and -- when its docstring has ``>>>`` examples -- a
   "Try it" code cell with them (demo cells are not run when grading);
4. a last cell that runs the grader on the notebook.

Cell ids are derived from positions, so generating twice gives the same bytes.
"""

from __future__ import annotations

import ast
import doctest
import functools
import io
import re
import sys
import tokenize
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from grader.instructor.stubs import exercise_number, strip_markers

_DOUBLE_BACKTICKS = re.compile(r"``([^`]+)``")


def _markdown(text: str) -> str:
    """reST-flavoured docstring text as Jupyter markdown (``code`` -> `code`)."""
    return _DOUBLE_BACKTICKS.sub(r"`\1`", text).strip()


def _chunks(source: str) -> tuple[str | None, str, list[tuple[ast.stmt, str]]]:
    """(module docstring, code before the first definition, [(definition, its source)])."""
    tree = ast.parse(source)
    lines = source.splitlines()
    doc = ast.get_docstring(tree, clean=True)
    body = tree.body[1:] if doc is not None else tree.body
    after_doc = tree.body[0].end_lineno or 0 if doc is not None else 0
    starts: list[tuple[int, ast.stmt]] = []
    for node in body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        while start - 2 >= after_doc and lines[start - 2].lstrip().startswith("#"):
            start -= 1  # comments directly above belong to the definition
        starts.append((start, node))
    first = starts[0][0] if starts else len(lines) + 1
    header = "\n".join(lines[after_doc : first - 1]).strip("\n")
    chunks = []
    for i, (start, node) in enumerate(starts):
        stop = starts[i + 1][0] - 1 if i + 1 < len(starts) else len(lines)
        chunks.append((node, "\n".join(lines[start - 1 : stop]).strip("\n")))
    return doc, header, chunks


# Imports a docstring example may rely on that the stub's header does not provide.
_EXAMPLE_IMPORTS = {
    "torch": "import torch",
    "nn": "from torch import nn",
    "F": "import torch.nn.functional as F",
    "np": "import numpy as np",
    "math": "import math",
}
_COMPOUND = (ast.For, ast.While, ast.If, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef)
LINE_LENGTH = 100


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names the module binds at its top level (imports, definitions, assignments)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        else:
            names |= {
                n.id
                for n in ast.walk(node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
    return names


_SIMPLE_SINGLE_QUOTED = re.compile(r"^([rRbBuUfF]{0,2})'([^'\"\\]*)'$")


def _unparse(node: ast.AST) -> str:
    """``ast.unparse`` with the double quotes ``ruff format`` wants for plain strings."""
    code = ast.unparse(node)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return code
    lines = code.splitlines()
    for tok in reversed(tokens):  # right to left, so earlier columns stay valid
        m = _SIMPLE_SINGLE_QUOTED.match(tok.string)
        if tok.type == tokenize.STRING and m and tok.start[0] == tok.end[0]:
            row, (start, end) = tok.start[0] - 1, (tok.start[1], tok.end[1])
            line = lines[row]
            lines[row] = f'{line[:start]}{m.group(1)}"{m.group(2)}"{line[end:]}'
    return "\n".join(lines)


def _trailing_comment(line: str) -> str:
    """The ``# comment`` that ends ``line``, if any (not a ``#`` inside a string); ``line``
    may be the last line of a bracketed expression, which does not tokenize on its own."""
    comments = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line).readline):
            if tok.type == tokenize.COMMENT:
                comments.append(tok.string)
    except (tokenize.TokenError, SyntaxError):
        pass  # the unbalanced ``)`` comes after the comment has been read
    return comments[-1] if comments else ""


def _import_lines(
    nodes: list[ast.Import | ast.ImportFrom], bound: set[str], wanted: list[str]
) -> list[str]:
    """One import per line, without names the module already has, sorted the way ruff's isort
    wants: standard library first, plain ``import`` before ``from``, alphabetical."""
    found = set(wanted)
    for node in nodes:
        for alias in node.names:
            if (alias.asname or alias.name.split(".")[0]) in bound:
                continue
            if isinstance(node, ast.ImportFrom):
                found.add(ast.unparse(ast.ImportFrom(node.module, [alias], node.level)))
            else:
                found.add(ast.unparse(ast.Import([alias])))

    def key(line: str) -> tuple[bool, bool, str]:
        module = line.split()[1]
        third_party = module.split(".")[0] not in sys.stdlib_module_names
        return third_party, line.startswith("from "), module.lower()

    return sorted(found, key=key)


def _statement_text(node: ast.stmt, lines: list[str], crowded: bool) -> str:
    """One statement of an example as cell code a formatter would leave alone."""
    end = node.end_lineno or node.lineno
    original = "\n".join(lines[node.lineno - 1 : end])
    if crowded:  # ``a; b`` shares a line: ruff wants one statement per line
        return _unparse(node)
    if end > node.lineno and not isinstance(node, _COMPOUND):
        comment = _trailing_comment(lines[end - 1])
        joined = _unparse(node) + (f"  {comment}" if comment else "")
        if len(joined) <= LINE_LENGTH:  # a call wrapped by hand fits on one line
            return joined
    return original


def _as_cell_code(code: str, tree: ast.Module, module: ast.Module) -> str:
    """Doctest code laid out as lint-clean cell code: imports first (one per line, sorted,
    none the module already has, plus any the examples need but the stub lacks), then one
    statement per line; a ``f = lambda ...`` example keeps its lambda with a ``noqa``."""
    lines = code.splitlines()
    per_line: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            per_line[node.lineno] = per_line.get(node.lineno, 0) + 1
    bound = _top_level_names(module)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    wanted = [line for name, line in _EXAMPLE_IMPORTS.items() if name in used - bound]
    import_nodes = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    body: list[str] = []
    for node in tree.body:
        if node in import_nodes:
            continue
        end = node.end_lineno or node.lineno
        crowded = any(per_line.get(n, 0) > 1 for n in range(node.lineno, end + 1))
        text = _statement_text(node, lines, crowded)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            text += "  # noqa: E731"
        body.append(text)
    imports = _import_lines(import_nodes, bound, wanted)
    return "\n".join([*imports, "", *body] if imports else body)


def _shown(example: doctest.Example, *, is_last: bool) -> str:
    """One doctest example as cell code that shows what the docstring shows: a cell displays
    only its last expression, so an earlier one is printed; a one-line expected output is
    added as a comment."""
    source, want = example.source.strip(), example.want.strip()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return example.source
    if not want or len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return example.source
    comment = _trailing_comment(source.splitlines()[-1])
    expression = ast.get_source_segment(source, tree.body[0].value) or source
    text = source if is_last else f"print({expression})"
    if comment:
        text += f"  {comment}" if not is_last else ""
    elif "\n" not in want and len(text) + len(want) + 8 <= LINE_LENGTH:
        text += f"  # shows {want}"
    return text + "\n"


def _examples(node: ast.stmt, module: ast.Module) -> str:
    """The ``>>>`` examples of ``node``'s docstring, as a cell with the imports they need."""
    doc = ast.get_docstring(node) if isinstance(node, ast.FunctionDef | ast.ClassDef) else None
    if not doc:
        return ""
    examples = doctest.DocTestParser().get_examples(doc)
    last = len(examples) - 1
    code = "".join(_shown(e, is_last=i == last) for i, e in enumerate(examples)).strip()
    if not code:
        return ""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    return _as_cell_code(code, tree, module)


def build(source: str, number: int, module: str, *, solution: bool = False) -> NotebookNode:
    """The notebook for one exercise module's text (a stub, or a solution without markers)."""
    v4 = nbformat.v4
    cells: list[NotebookNode] = []

    def add(kind: str, text: str) -> None:
        # Both make a NotebookNode; nbformat leaves them unannotated.
        make: Callable[..., NotebookNode] = (
            v4.new_markdown_cell if kind == "markdown" else v4.new_code_cell
        )
        cells.append(make(text, id=f"{kind}-{len(cells) + 1}"))

    doc, header, chunks = _chunks(source)
    module_tree = ast.parse(source)
    title, _, rest = (doc or f"Exercise {number}").partition("\n")
    title = title.strip().rstrip(".") + (" (solution)" if solution else "")
    add("markdown", f"# {_markdown(title)}\n\n{_markdown(rest)}".strip())
    if solution:
        add(
            "markdown",
            f"This is the published solution of exercise {number}. Run the last cell to see "
            "it pass the grader's tests.",
        )
    else:
        add(
            "markdown",
            "**How to work in this notebook.** Replace each `raise NotImplementedError(...)` "
            "with your code, use the *Try it* cells to experiment, then save the notebook and "
            "run the last cell to grade it.\n\n"
            "When grading, only imports, functions, classes and simple constants are taken "
            "from your cells; calls, prints, plots and other experiments are left out (the "
            "scorecard says which cells had some), and IPython magics (`%...`) and shell lines "
            "(`!...`) are ignored.",
        )
    if header:
        add("code", header)
    for node, text in chunks:
        name = getattr(node, "name", "")
        kind = "class" if isinstance(node, ast.ClassDef) else "function"
        add("markdown", f"## The {kind} `{name}`")
        add("code", text)
        example = _examples(node, module_tree)
        if example:
            add("markdown", f"Try it (the example from the docstring of `{name}`):")
            add("code", example)
    add(
        "markdown",
        "## Grade your work\n\nSave the notebook first (the grader reads the file on disk), "
        "then run the cell below. `grade list` shows every exercise.",
    )
    add("code", f"!grade exercise-{number} --submission {module}.ipynb")
    nb: NotebookNode = v4.new_notebook(cells=cells)  # nbformat leaves it unannotated
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def to_text(nb: NotebookNode) -> str:
    text: str = nbformat.writes(nb)  # nbformat leaves it unannotated
    return text if text.endswith("\n") else text + "\n"


def stub_notebook(stub_source: str, module_path: Path) -> str:
    """Notebook text for the stub ``module_path`` (an ``exNN_<slug>.py`` name) holds."""
    return _stub_notebook(stub_source, module_path.name)


@functools.lru_cache(maxsize=64)  # drift checks rebuild the same notebooks; validation is slow
def _stub_notebook(stub_source: str, filename: str) -> str:
    path = Path(filename)
    return to_text(build(stub_source, exercise_number(path), path.stem))


def solution_notebook(solution_source: str, module_path: Path) -> str:
    number = exercise_number(module_path)
    clean = strip_markers(solution_source, str(module_path))
    return to_text(build(clean, number, module_path.stem, solution=True))
