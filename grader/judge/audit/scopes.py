"""Who binds which name, and what a name or dotted expression in the file refers to.

One pass over the tree (with an explicit stack: a hostile file may nest deeper than Python's
recursion limit) records, for every node, its scope, its parent, the top-level function or
class it belongs to and the top-level statement it is part of; and, per scope, every binding of
every name: imports (``import torch.nn.utils as U``), assignments whose value the audit can
follow (``f = torch.nn.utils.clip_grad_norm_``) and everything else (parameters, loop
variables, definitions), which the audit treats as the file's own.

Resolution is flow-insensitive: a name bound twice in a scope refers to both values, so
re-binding a name after using it hides nothing. It follows Python's rules otherwise (class
bodies do not enclose their methods; ``global`` goes to the module).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from grader.judge.audit import knowledge

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# Contexts and operators: one shared instance each, about a third of a tree's nodes, no names.
_SHARED = (ast.expr_context, ast.operator, ast.boolop, ast.cmpop, ast.unaryop)
MAX_DEPTH = 24  # aliases of aliases followed before giving up (treated as unknown)
SELF_NAMES = frozenset({"self", "cls", "ctx", "mcs"})


@dataclass(frozen=True)
class Ref:
    """What an expression may refer to: the dotted path as written, with aliases expanded
    (``U.clip_grad_norm_`` -> ``torch.nn.utils.clip_grad_norm_``), and the object it names in
    the snapshot (``knowledge.MISSING`` if it names nothing there)."""

    path: str
    obj: object


@dataclass(frozen=True)
class Binding:
    kind: str  # "import" | "expr" | "self" (first parameter of a method) | "own"
    stmt: ast.AST  # the statement (or parameter) that binds
    path: str = ""  # import: the dotted name imported
    value: ast.expr | None = None  # expr: the value assigned
    scope: Scope | None = None  # expr: where the value is evaluated


@dataclass(eq=False)
class Scope:
    kind: str  # "module" | "function" | "class"
    parent: Scope | None
    names: dict[str, list[Binding]] = field(default_factory=dict)
    global_names: set[str] = field(default_factory=set)

    def bind(self, name: str, binding: Binding, module: Scope) -> None:
        target = module if name in self.global_names else self
        target.names.setdefault(name, []).append(binding)


@dataclass
class Tree:
    """The parsed file with everything the checks need to know about each node."""

    module: ast.Module
    nodes: list[ast.AST]  # every node, parents before children
    scope: dict[int, Scope]  # id(node) -> the scope its names are looked up in
    parent: dict[int, ast.AST]
    top: dict[int, str | None]  # id(node) -> top-level function/class name, None at module level
    statement: dict[int, int]  # id(node) -> index of its top-level statement in module.body
    module_scope: Scope
    own_classes: set[str]  # top-level classes of the file
    own_members: set[str]  # names the file's classes define (methods, class and self attributes)
    _cache: dict[tuple[int, str], list[Ref]] = field(default_factory=dict)
    _busy: set[tuple[int, str]] = field(default_factory=set)

    def defining_scope(self, name: str, scope: Scope) -> Scope | None:
        """The scope whose binding of ``name`` a use in ``scope`` sees (None: a built-in)."""
        if name in scope.global_names:
            return self.module_scope if name in self.module_scope.names else None
        current: Scope | None = scope
        first = True
        while current is not None:
            if (first or current.kind != "class") and name in current.names:
                return current
            first = False
            current = current.parent
        return None

    def bindings(self, name: str, scope: Scope) -> list[Binding]:
        found = self.defining_scope(name, scope)
        return found.names[name] if found is not None else []

    def refs_of_name(self, name: str, scope: Scope, depth: int = 0) -> list[Ref]:
        found = self.defining_scope(name, scope)
        if found is None or depth > MAX_DEPTH:
            return []
        key = (id(found), name)
        if key in self._cache:
            return self._cache[key]
        if key in self._busy:  # x = x.y: a cycle; the other bindings still count
            return []
        self._busy.add(key)
        refs: list[Ref] = []
        for binding in found.names[name]:
            if binding.kind == "import":
                refs.append(Ref(binding.path, knowledge.resolve(binding.path)))
            elif binding.kind == "expr" and binding.value is not None and binding.scope:
                refs.extend(self.refs_of_expr(binding.value, binding.scope, depth + 1))
        self._busy.discard(key)
        self._cache[key] = refs
        return refs

    def refs_of_expr(self, node: ast.AST, scope: Scope, depth: int = 0) -> list[Ref]:
        """What ``node`` may refer to, when it is a name, a dotted chain on one, a literal
        ``getattr``, or a choice between those (``a if c else b``, ``a or b``)."""
        if depth > MAX_DEPTH:
            return []
        steps: list[str] = []
        while (step := attribute_step(node, self, scope)) is not None:
            node, attr = step
            steps.append(attr)
        if isinstance(node, ast.Name):
            refs = self.refs_of_name(node.id, scope, depth)
        elif isinstance(node, ast.IfExp):
            refs = self.refs_of_expr(node.body, scope, depth + 1)
            refs += self.refs_of_expr(node.orelse, scope, depth + 1)
        elif isinstance(node, ast.BoolOp):
            refs = [r for v in node.values for r in self.refs_of_expr(v, scope, depth + 1)]
        else:
            return []
        for attr in reversed(steps):
            refs = [Ref(f"{r.path}.{attr}", knowledge.lookup(r.obj, attr)) for r in refs]
        return refs

    def is_builtin(self, node: ast.AST, name: str) -> bool:
        """Whether ``node`` is a use of the built-in ``name`` (the file has not rebound it)."""
        if not (isinstance(node, ast.Name) and node.id == name):
            return False
        return self.defining_scope(name, self.scope[id(node)]) is None


def attribute_step(node: ast.AST, tree: Tree, scope: Scope) -> tuple[ast.expr, str] | None:
    """``(receiver, name)`` when ``node`` reads, writes or tests one attribute with a name the
    audit can read: ``x.name``, or ``getattr``/``hasattr``/``setattr``/``delattr`` called with
    a literal name."""
    if isinstance(node, ast.Attribute):
        return node.value, node.attr
    if literal_attr_call(node, tree):
        assert isinstance(node, ast.Call)
        name = node.args[1]
        assert isinstance(name, ast.Constant)
        return node.args[0], str(name.value)
    return None


def literal_attr_call(node: ast.AST, tree: Tree) -> bool:
    """A call of the built-in getattr & co. whose attribute name is a string literal."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return False
    if node.func.id not in ("getattr", "hasattr", "setattr", "delattr"):
        return False
    if not tree.is_builtin(node.func, node.func.id):
        return False
    args = node.args
    plain = not any(isinstance(a, ast.Starred) for a in args) and not node.keywords
    return (
        plain
        and len(args) >= 2
        and isinstance(args[1], ast.Constant)
        and isinstance(args[1].value, str)
    )


def build(module: ast.Module) -> Tree:
    """Walk the tree once, iteratively, recording scopes, bindings and where each node is."""
    module_scope = Scope("module", None)
    tree = Tree(module, [], {}, {}, {}, {}, module_scope, set(), set())
    stack: list[tuple[ast.AST, Scope, str | None, int]] = [
        (stmt, module_scope, None, i) for i, stmt in reversed(list(enumerate(module.body)))
    ]
    self_stores: list[tuple[ast.Attribute, Scope]] = []
    while stack:
        node, scope, top, index = stack.pop()
        tree.nodes.append(node)
        tree.scope[id(node)] = scope
        tree.top[id(node)] = top
        tree.statement[id(node)] = index
        if scope is module_scope and isinstance(node, _DEFS):
            top = node.name
            tree.top[id(node)] = top
            if isinstance(node, ast.ClassDef):
                tree.own_classes.add(node.name)
        _bind(node, scope, tree)
        if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load):
            self_stores.append((node, scope))
        children = list(_children(node, scope, tree))
        for child, child_scope in reversed(children):
            tree.parent[id(child)] = node
            stack.append((child, child_scope, top, index))
    for node, scope in self_stores:  # self.x = ... in a method defines x as the file's own
        receiver = node.value
        if isinstance(receiver, ast.Name):
            if any(b.kind == "self" for b in tree.bindings(receiver.id, scope)):
                tree.own_members.add(node.attr)
    return tree


def _children(node: ast.AST, scope: Scope, tree: Tree) -> Iterator[tuple[ast.AST, Scope]]:
    """Each child of ``node`` with the scope it is evaluated in (a function's decorators,
    defaults and annotations in the enclosing scope; its parameters and body in its own)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        inner = Scope("function", scope)
        _bind_parameters(node, scope, inner, tree)
        outer_parts: list[ast.AST] = [*node.args.defaults]
        outer_parts += [d for d in node.args.kw_defaults if d is not None]
        if not isinstance(node, ast.Lambda):
            outer_parts += node.decorator_list
            outer_parts += [node.returns] if node.returns else []
            arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            arguments += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
            outer_parts += [a.annotation for a in arguments if a.annotation is not None]
        yield from ((part, scope) for part in outer_parts)
        body = node.body if isinstance(node.body, list) else [node.body]
        yield from ((stmt, inner) for stmt in body)
        _mark_globals(node, inner)
        return
    if isinstance(node, ast.ClassDef):
        inner = Scope("class", scope)
        for part in (*node.decorator_list, *node.bases, *node.keywords):
            yield part, scope
        for stmt in node.body:
            _bind_member(stmt, tree)
            yield stmt, inner
        return
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, _SHARED):
            yield child, scope


def _mark_globals(function: ast.AST, inner: Scope) -> None:
    """Record ``global`` names of a function before its body binds anything."""
    body = getattr(function, "body", [])
    stack = list(body) if isinstance(body, list) else []
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ast.Global):
            inner.global_names.update(stmt.names)
        elif not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(c for c in ast.iter_child_nodes(stmt) if isinstance(c, ast.stmt))


def _bind_member(stmt: ast.stmt, tree: Tree) -> None:
    """Methods and class attributes are members the file defines itself."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        tree.own_members.add(stmt.name)
    elif isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            tree.own_members.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        tree.own_members.add(stmt.target.id)


def _bind_parameters(
    fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, outer: Scope, inner: Scope, tree: Tree
) -> None:
    args = fn.args
    positional = args.posonlyargs + args.args
    every = positional + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
    in_class = outer.kind == "class" and not isinstance(fn, ast.Lambda)
    for i, arg in enumerate(every):
        is_self = in_class and i == 0 and positional and arg.arg in SELF_NAMES
        inner.bind(arg.arg, Binding("self" if is_self else "own", arg), tree.module_scope)


_BINDERS = (
    ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
    ast.AnnAssign, ast.NamedExpr, ast.Global, ast.For, ast.AsyncFor, ast.comprehension,
    ast.AugAssign, ast.withitem, ast.ExceptHandler, ast.MatchAs, ast.MatchStar, ast.MatchMapping,
)  # fmt: skip


def _bind(node: ast.AST, scope: Scope, tree: Tree) -> None:
    """Record the names ``node`` binds in ``scope``."""
    if not isinstance(node, _BINDERS):  # most nodes bind nothing: keep the walk cheap
        return
    module = tree.module_scope
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                scope.bind(alias.asname, Binding("import", node, path=alias.name), module)
            else:
                root = alias.name.split(".")[0]
                scope.bind(root, Binding("import", node, path=root), module)
    elif isinstance(node, ast.ImportFrom):
        for alias in node.names:
            if alias.name == "*":
                continue
            name = alias.asname or alias.name
            if node.level or not node.module:
                scope.bind(name, Binding("own", node), module)
            else:
                path = f"{node.module}.{alias.name}"
                scope.bind(name, Binding("import", node, path=path), module)
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        scope.bind(node.name, Binding("own", node), module)
    elif isinstance(node, ast.Assign):
        for target in node.targets:
            _bind_target(target, node.value, node, scope, module)
    elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
        _bind_target(node.target, node.value, node, scope, module)
    elif isinstance(node, ast.Global):
        scope.global_names.update(node.names)
    else:
        for other in _other_targets(node):
            for sub in ast.walk(other):
                if isinstance(sub, ast.Name):
                    scope.bind(sub.id, Binding("own", node), module)
        if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            scope.bind(node.name, Binding("own", node), module)
        if isinstance(node, ast.MatchMapping) and node.rest:
            scope.bind(node.rest, Binding("own", node), module)


def _other_targets(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
        return [node.target]
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target]
    if isinstance(node, ast.withitem) and node.optional_vars is not None:
        return [node.optional_vars]
    return []


def _bind_target(
    target: ast.AST, value: ast.expr, stmt: ast.AST, scope: Scope, module: Scope
) -> None:
    """``name = value`` follows value; ``a, b = x, y`` pairs them up; anything else is own."""
    if isinstance(target, ast.Name):
        scope.bind(target.id, Binding("expr", stmt, value=value, scope=scope), module)
    elif (
        isinstance(target, ast.Tuple | ast.List)
        and isinstance(value, ast.Tuple | ast.List)
        and len(target.elts) == len(value.elts)
    ):
        for t, v in zip(target.elts, value.elts):
            _bind_target(t, v, stmt, scope, module)
    else:
        for name in ast.walk(target):
            if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store):
                scope.bind(name.id, Binding("own", stmt), module)
