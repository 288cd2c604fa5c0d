"""Which of the student's names a test depends on -- decided by the judge, never taken from the
worker's report.

A test's student names decide which tests a forbidden use voids, and a scenario that needs a
name the submission does not define cannot have run. The worker reports the names a scenario
used, but a worker can lie; the judge works them out itself from three things it trusts:

- the scenario's own source (``grader/worker/scenarios/exNN_<slug>.py``, shipped with the
  grader): every ``student.<name>`` that the scenario function or a helper it calls reads;
- the scenario's name: a scenario registered once per student name ends with that name
  (``schedule_StepDecayLR``, ``trajectory_Adam``);
- the request's data: a student name passed as a string (``fn="xavier_uniform_"``).

The last two only count names the submission defines at its top level (read from its source
by :func:`defined_names`). The worker's own report is added on top: a lying worker can only
make more of its tests void.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "worker" / "scenarios"
# Methods of the worker's Student handle: not student names.
HANDLE_METHODS = frozenset({"has", "unguarded", "used"})


def defined_names(source: str) -> frozenset[str] | None:
    """The names the module ``source`` binds at its top level (None if it cannot be known:
    a star import, or a file that does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    names: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue  # its body binds local names only
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return frozenset(names)


def bindings_by_line(source: str) -> dict[int, tuple[str, ...]]:
    """For each top-level statement that binds plain names -- an import, ``name = ...`` --
    every line it spans, mapped to the names it binds. An object such a statement *looks up*
    (an alias, a ``getattr``) reaches a test only through those names; the caller decides
    which findings may be attributed that way (code that *does* something at import time --
    starting a thread, patching torch -- is never just a lookup).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    found: dict[int, tuple[str, ...]] = {}
    for stmt in tree.body:
        names: tuple[str, ...] | None = None
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names = tuple(a.asname or a.name.split(".")[0] for a in stmt.names if a.name != "*")
        elif isinstance(stmt, ast.Assign):
            if all(isinstance(t, ast.Name) for t in stmt.targets):
                names = tuple(t.id for t in stmt.targets if isinstance(t, ast.Name))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            names = (stmt.target.id,)
        if names is not None:
            for line in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1):
                found[line] = names
    return found


def _student_param(fn: ast.FunctionDef) -> set[str]:
    """The parameter names through which ``fn`` gets the Student handle."""
    found = set()
    for arg in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]:
        note = ast.unparse(arg.annotation) if arg.annotation is not None else ""
        if arg.arg == "student" or "Student" in note:
            found.add(arg.arg)
    return found


@functools.cache
def _static(module: str) -> dict[str, frozenset[str]]:
    """Per function of the scenario module: the student names it (or what it calls) reads."""
    path = SCENARIOS_DIR / f"{module}.py"
    if not path.is_file():
        return {}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    direct: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    for name, fn in functions.items():
        handles = _student_param(fn)
        direct[name] = {
            node.attr
            for node in ast.walk(fn)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in handles
            and not node.attr.startswith("_")
            and node.attr not in HANDLE_METHODS
        }
        calls[name] = {
            node.func.id
            for node in ast.walk(fn)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in functions
        }
    closed: dict[str, frozenset[str]] = {}
    for name in functions:
        seen, todo, needs = {name}, [name], set()
        while todo:
            current = todo.pop()
            needs |= direct[current]
            for callee in calls[current] - seen:
                seen.add(callee)
                todo.append(callee)
        closed[name] = frozenset(needs)
    return closed


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def scenario_needs(
    module: str, scenario: str, data: dict[str, Any], defined: frozenset[str] | None
) -> set[str]:
    """The student names scenario ``scenario`` of exercise ``module`` depends on."""
    static = _static(module)
    needs = set(static.get(scenario, ()))
    for base, names in static.items():  # registered once per student name: base_<name>
        if scenario.startswith(f"{base}_"):
            needs |= names
    if defined:
        needs |= {n for n in defined if scenario.endswith(f"_{n}")}
        needs |= {s for s in _strings(data) if s in defined}
    return needs
