"""``exercises/`` as generated from ``solutions/``: write it, or list where it has drifted."""

from __future__ import annotations

import ast
from pathlib import Path

from grader.instructor import notebooks, stubs
from grader.judge.notebook_source import notebook_to_python

REGENERATE = "grade stubs"


def repo_root() -> Path:
    """The source checkout the instructor commands work on (the one ``grader`` lives in)."""
    import grader

    root = Path(grader.__file__).resolve().parent.parent
    if not (root / "solutions").is_dir():
        from grader.judge.failures import GraderError

        raise GraderError(
            f"no solutions/ folder next to the grader package ({root}): instructor commands "
            "run from the grader's source checkout"
        )
    return root


def expected_for(root: Path, solution: Path) -> dict[Path, str]:
    """The stub ``.py`` and notebook generated from one solution, with their exact text."""
    stub = stubs.stub_for(solution)
    target = stubs.stub_path(root, solution)
    return {target: stub, target.with_suffix(".ipynb"): notebooks.stub_notebook(stub, solution)}


def expected(root: Path) -> dict[Path, str]:
    """Every generated file (stub ``.py`` and notebook per solution) and its exact text."""
    out: dict[Path, str] = {}
    for solution in stubs.solution_files(root):
        out.update(expected_for(root, solution))
    return out


def write(root: Path) -> list[Path]:
    """Regenerate ``exercises/``; returns the files whose content changed."""
    changed = []
    for path, text in expected(root).items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def drift(root: Path) -> list[str]:
    """One line per generated file that is missing or differs from what is committed."""
    problems = []
    for path, text in expected(root).items():
        rel = path.relative_to(root)
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{rel} differs from what solutions/{path.stem}.py generates")
    return problems


def _statements(tree: ast.Module, extra_names_allowed: set[str] | None = None) -> list[str]:
    """Top-level statements other than imports and the module docstring, as AST dumps.

    With ``extra_names_allowed``, assignments to other names (a ``f = lambda ...`` from a
    "Try it" cell) are left out: they add a name but cannot change what the stub defines.
    """
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the module docstring becomes the notebook's first markdown cell
    out = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if extra_names_allowed is not None and isinstance(node, ast.Assign):
            targets = {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if not targets & extra_names_allowed:
                continue
        out.append(ast.dump(node))
    return out


def _defined(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def code_mismatch(notebook: bytes, notebook_name: str, stub: str, stub_name: str) -> str | None:
    """Why grading the notebook would not grade the same code as the stub (None: it would).

    The notebook is read exactly as a student's submission is; its definitions must equal the
    stub's, and it must import at least what the stub imports.
    """
    converted = notebook_to_python(notebook, notebook_name)
    got, want = ast.parse(converted.source), ast.parse(stub)
    if _statements(got, _defined(want)) != _statements(want):
        return f"{notebook_name} defines different code from {stub_name}"
    imports = {ast.dump(n) for n in got.body if isinstance(n, (ast.Import, ast.ImportFrom))}
    for node in want.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and ast.dump(node) not in imports:
            return f"{notebook_name} lacks `{ast.unparse(node)}` that {stub_name} has"
    return None


def notebook_matches_stub(notebook: Path, stub: Path) -> str | None:
    return code_mismatch(
        notebook.read_bytes(), notebook.name, stub.read_text(encoding="utf-8"), stub.name
    )
