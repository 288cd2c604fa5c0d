"""The checks: one pass over the recorded tree, then the spread of findings to their users.

Each node gets at most one finding, the most specific that applies (a forbidden API before an
extra before a refused API or module before private access before a forbidden leaf). A dotted
chain (``torch.nn.utils.clip_grad_norm_``, ``getattr(torch, "nn").utils``) is judged as a whole,
from its root outwards, and reported once, as written.
"""

from __future__ import annotations

import ast
from types import ModuleType

from grader.judge.audit import findings, knowledge, policy
from grader.judge.audit.findings import Finding
from grader.judge.audit.policy import Denial, is_dunder, under
from grader.judge.audit.scopes import Ref, Scope, Tree, attribute_step, literal_attr_call
from grader.judge.exercises import Exercise


class Auditor:
    """Audits one parsed file against one exercise's policy."""

    def __init__(self, source: str, tree: Tree, exercise: Exercise) -> None:
        self.lines = findings.split_lines(source)
        self.tree = tree
        self.ex = exercise
        self.allowed = exercise.audit_imports
        if self.allowed is None:
            self.allowed = policy.BASELINE_IMPORTS
        self.known = knowledge.known(exercise.forbidden)
        self.refused = knowledge.refused()
        self.extras = knowledge.extras(exercise.audit_extras)
        self.torch_allowed = self._module_denial("torch") is None
        self.findings: dict[int, Finding] = {}  # id(node) -> its finding
        self.flagged_roots: set[int] = set()  # roots of chains that already have a finding

    # -- driving -------------------------------------------------------------------------

    def run(self) -> list[Finding]:
        for node in self.tree.nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._import(node)
            elif self._outermost_step(node):
                self._chain(node)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if id(node) not in self.findings and not self._is_chain_root(node):
                    denial = self._name_denial(node, as_value=True)
                    if denial is not None:
                        self._add(node, denial)
            if isinstance(node, ast.Call) and id(node) not in self.findings:
                self._call(node)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Assign):
                self._hook(node)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.AnnAssign):
                self._string_annotations(node)
        self._spread()
        unique = {(f.line, f.col, f.construct): f for f in reversed(self.findings.values())}
        return sorted(unique.values(), key=lambda f: (f.line, f.col))

    def _scope(self, node: ast.AST) -> Scope:
        return self.tree.scope[id(node)]

    def _outermost_step(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Attribute | ast.Call):
            return False
        if attribute_step(node, self.tree, self._scope(node)) is None:
            return False
        parent = self.tree.parent.get(id(node))
        if parent is None:
            return True
        step = attribute_step(parent, self.tree, self._scope(parent))
        return step is None or step[0] is not node

    def _is_chain_root(self, node: ast.AST) -> bool:
        parent = self.tree.parent.get(id(node))
        if parent is None:
            return False
        step = attribute_step(parent, self.tree, self._scope(parent))
        return step is not None and step[0] is node

    # -- names, chains, imports ----------------------------------------------------------

    def _chain(self, outer: ast.AST) -> None:
        """Judge ``a.b.c`` (or a literal getattr of it) from the root outwards."""
        scope = self._scope(outer)
        steps: list[tuple[ast.AST, str]] = []
        node: ast.AST = outer
        while (step := attribute_step(node, self.tree, scope)) is not None:
            steps.append((node, step[1]))
            node = step[0]
        steps.reverse()
        refs: list[Ref] = []
        if isinstance(node, ast.Name):
            denial = self._name_denial(node, as_value=False)
            refs = self.tree.refs_of_name(node.id, scope)
            if denial is not None:  # a refused root (sys); a refused API under it says more
                self.flagged_roots.add(id(node))
                self._add(outer, self._more_specific(denial, refs, steps))
                return
        kind = self._receiver_kind(node)
        if kind == "super":  # super().x is the base class's x: torch's, if the base is torch's
            refs = self._super_refs(node)
        for i, (step_node, attr) in enumerate(steps):
            new = [Ref(f"{r.path}.{attr}", knowledge.lookup(r.obj, attr)) for r in refs]
            write = i == len(steps) - 1 and self._is_write(step_node)
            denial = self._step_denial(step_node, attr, refs, new, kind, write)
            if denial is not None:
                self.flagged_roots.add(id(node))
                self._add(outer, denial)
                return
            refs, kind = new, None
        if self._passes_module(outer, refs):
            self._add(outer, policy.MODULE_AS_VALUE)

    def _more_specific(
        self, denial: Denial, refs: list[Ref], steps: list[tuple[ast.AST, str]]
    ) -> Denial:
        """``sys.modules`` is refused for more than being in ``sys``: say so."""
        for _, attr in steps:
            refs = [Ref(f"{r.path}.{attr}", knowledge.lookup(r.obj, attr)) for r in refs]
            found = self._ref_denial(refs, attr)
            if found is not None and found != denial and found.rule != "import":
                return found  # (os.path being posixpath, outside the list, says nothing more)
        return denial

    def _name_denial(self, node: ast.Name, *, as_value: bool) -> Denial | None:
        """Why a use of a name is refused: a refused built-in, or what the name refers to."""
        scope = self._scope(node)
        if self.tree.defining_scope(node.id, scope) is None:
            return self._builtin_denial(node)
        refs = self.tree.refs_of_name(node.id, scope)
        denial = self._ref_denial(refs, None)
        if denial is None and as_value and self._passes_module(node, refs):
            return policy.MODULE_AS_VALUE
        return denial

    def _builtin_denial(self, node: ast.Name) -> Denial | None:
        name, parent = node.id, self.tree.parent.get(id(node))
        call = parent if isinstance(parent, ast.Call) and parent.func is node else None
        if name in policy.ATTR_BUILTINS:
            return None if call and literal_attr_call(call, self.tree) else policy.DYNAMIC_ATTR
        if name == "vars" and call and len(call.args) == 1 and not call.keywords:
            if self._receiver_kind(call.args[0]) == "self":
                return None
        if name in policy.DENIED_BUILTINS:
            return policy.DENIED_BUILTINS[name]
        if name == "type" and call and len(call.args) == 3:
            return policy.DYNAMIC_CLASS
        if is_dunder(name) and name not in policy.HARMLESS_DUNDER_NAMES:
            return policy.DUNDER
        return None

    def _ref_denial(self, refs: list[Ref], attr: str | None) -> Denial | None:
        """Forbidden API, extra, refused API or refused module, for what ``refs`` name."""
        for ref in refs:
            if ref.obj is not knowledge.MISSING:
                for i in knowledge.identities(ref.obj):
                    if i in self.known.forbidden:
                        return self._forbidden(ref.path, self.known.forbidden[i])
        extra = self._extra(refs, attr)
        if extra is not None:
            return extra
        for ref in refs:
            if ref.obj is knowledge.MISSING:
                continue
            for i in knowledge.identities(ref.obj):
                if i in self.refused.denied:
                    return self.refused.denied[i][1]
            if isinstance(ref.obj, ModuleType):
                denial = self._module_denial(ref.obj.__name__)
                if denial is not None:
                    return denial
        return None

    def _step_denial(
        self,
        node: ast.AST,
        attr: str,
        receiver: list[Ref],
        refs: list[Ref],
        kind: str | None,
        write: bool,
    ) -> Denial | None:
        """Why reading (or writing) ``receiver.attr`` is refused, most specific reason first."""
        denial = self._ref_denial(refs, attr)
        if denial is not None:
            return denial
        if attr in policy.FRAME_ATTRS:
            return policy.FRAME
        if is_dunder(attr):
            return self._dunder_denial(node, attr, kind, write, bool(receiver))
        if attr.startswith("_") and kind not in ("self", "super"):
            if receiver or attr not in self.tree.own_members:
                return policy.PRIVATE_ATTR
        if write and receiver and not self._is_setting(receiver, attr):
            return policy.PATCH
        resolved = any(r.obj is not knowledge.MISSING for r in refs)
        if attr in self.known.leaves and not resolved and not self._own_leaf(attr, kind):
            return self._forbidden(f".{attr}", self.known.leaves[attr], leaf=True)
        return None

    def _dunder_denial(
        self, node: ast.AST, attr: str, kind: str | None, write: bool, library: bool
    ) -> Denial | None:
        if write:  # into torch it is patching; a docstring or name of one's own is harmless
            if library:
                return policy.PATCH
            return None if attr in policy.WRITABLE_DUNDERS else policy.DUNDER
        if attr in policy.HARMLESS_DUNDERS:
            return None
        parent = self.tree.parent.get(id(node))
        if attr in policy.CALL_DUNDERS and isinstance(parent, ast.Call) and parent.func is node:
            return None
        if kind == "super" and attr in policy.SUPER_DUNDERS:
            return None
        if attr == "__dict__":
            return None if kind == "self" else policy.NAMESPACE_DICT
        return policy.DUNDER

    def _own_leaf(self, attr: str, kind: str | None) -> bool:
        """A forbidden leaf that is also the name of one of the file's own members is the
        file's own on ``self``, ``super()`` and its own classes -- and anywhere in an exercise
        where torch cannot be imported, since nothing of torch's can reach the code there."""
        if attr not in self.tree.own_members:
            return False
        return kind in ("self", "super", "own-class") or not self.torch_allowed

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                denial = self._module_path_denial(alias.name)
                if denial is not None:
                    self._add(alias, denial, construct=_import_text(node, alias))
            return
        if node.level or not node.module:
            self._add(node, policy.RELATIVE_IMPORT)
            return
        denial = self._module_path_denial(node.module)
        if denial is not None:
            self._add(node, denial, construct=f"from {node.module} import ...")
            return
        for alias in node.names:
            denial = self._from_name_denial(node.module, alias.name)
            if denial is not None:
                self._add(alias, denial, construct=_import_text(node, alias))

    def _from_name_denial(self, module: str, name: str) -> Denial | None:
        if name == "*":
            return policy.STAR_IMPORT
        path = f"{module}.{name}"
        denial = self._ref_denial([Ref(path, knowledge.resolve(path))], None)
        if denial is not None:
            return denial
        if is_dunder(name):
            return policy.DUNDER
        return policy.PRIVATE_ATTR if name.startswith("_") else None

    def _module_path_denial(self, module: str) -> Denial | None:
        extra = self._extra([Ref(module, knowledge.resolve(module))], None)
        return extra if extra is not None else self._module_denial(module)

    def _module_denial(self, module: str) -> Denial | None:
        assert self.allowed is not None
        return policy.module_denial(module, self.ex.id, self.allowed)

    # -- calls and definitions -----------------------------------------------------------

    def _call(self, node: ast.Call) -> None:
        """Loads that can run code from the file unless told not to."""
        ids = {
            i
            for ref in self.tree.refs_of_expr(node.func, self._scope(node))
            if ref.obj is not knowledge.MISSING
            for i in knowledge.identities(ref.obj)
        }
        if ids & self.refused.torch_load and not _keyword_is(node, "weights_only", True):
            self._add(node, policy.TORCH_LOAD)
        elif ids & self.refused.numpy_load and not _numpy_load_safe(node):
            self._add(node, policy.NUMPY_LOAD)

    def _hook(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Assign) -> None:
        """``__torch_function__``/``__torch_dispatch__`` defined in a class body."""
        parent = self.tree.parent.get(id(node))
        if not isinstance(parent, ast.ClassDef):
            return
        if isinstance(node, ast.Assign):
            names = {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        else:
            names = {node.name}
        if names & policy.HOOK_DUNDERS:
            self._add(node, policy.HOOK, construct=", ".join(sorted(names & policy.HOOK_DUNDERS)))

    def _string_annotations(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.AnnAssign
    ) -> None:
        """An annotation in quotes is parsed only by whoever evaluates it: allow type names."""
        annotations: list[ast.expr | None]
        if isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        else:
            a = node.args
            params = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
            annotations = [p.annotation for p in params if p is not None] + [node.returns]
        for annotation in annotations:
            if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                if not _names_a_type(annotation.value):
                    self._add(annotation, policy.STRING_ANNOTATION)

    # -- small judgements ----------------------------------------------------------------

    def _receiver_kind(self, node: ast.AST) -> str | None:
        """What receives an attribute access: "self" (a method's first parameter), "super"
        (``super()``), "own-class" (a class of the file), or None (anything else)."""
        if isinstance(node, ast.Call) and self.tree.is_builtin(node.func, "super"):
            return "super"
        if not isinstance(node, ast.Name):
            return None
        scope = self._scope(node)
        bindings = self.tree.bindings(node.id, scope)
        if bindings and all(b.kind == "self" for b in bindings):
            return "self"
        defining = self.tree.defining_scope(node.id, scope)
        if node.id in self.tree.own_classes and defining is self.tree.module_scope:
            return "own-class"
        return None

    def _super_refs(self, node: ast.AST) -> list[Ref]:
        """What the bases of the class around a ``super()`` call refer to."""
        current = self.tree.parent.get(id(node))
        while current is not None and not isinstance(current, ast.ClassDef):
            current = self.tree.parent.get(id(current))
        if current is None:
            return []
        scope = self._scope(current)
        return [r for base in current.bases for r in self.tree.refs_of_expr(base, scope)]

    def _extra(self, refs: list[Ref], attr: str | None) -> Denial | None:
        for entry in self.ex.audit_extras:
            if entry.startswith("."):
                if attr is not None and attr == entry[1:]:
                    return self._extra_denial(entry)
                continue
            for ref in refs:
                module = ref.obj.__name__ if isinstance(ref.obj, ModuleType) else ""
                if under(ref.path, entry) or (module and under(module, entry)):
                    return self._extra_denial(entry)
        for ref in refs:
            if ref.obj is not knowledge.MISSING:
                for i in knowledge.identities(ref.obj):
                    if i in self.extras.ids:
                        return self._extra_denial(self.extras.ids[i])
        return None

    def _is_write(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Attribute):
            return not isinstance(node.ctx, ast.Load)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return node.func.id in ("setattr", "delattr")

    def _is_setting(self, receiver: list[Ref], attr: str) -> bool:
        """Writing a plain value (a flag, a number) or into a settings module is configuring."""
        for ref in receiver:
            if any(under(ref.path, m) for m in policy.SETTINGS_MODULES):
                continue
            current = knowledge.lookup(ref.obj, attr)
            if not isinstance(current, bool | int | float | str):
                return False
        return True

    def _passes_module(self, node: ast.AST, refs: list[Ref]) -> bool:
        """A module used as a value (an argument, an element, a return value) rather than by
        name or in a plain alias assignment (``U = torch.nn.utils``, which the audit follows)."""
        if not any(isinstance(r.obj, ModuleType) for r in refs):
            return False
        node, parent = self._through_choices(node)
        if isinstance(parent, ast.Assign | ast.AnnAssign | ast.NamedExpr):
            return parent.value is not node or not _plain_targets(parent)
        if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name):
            judged = policy.ATTR_BUILTINS | {"vars"}  # getattr(module, name): the call is judged
            if parent.func.id in judged and self.tree.is_builtin(parent.func, parent.func.id):
                return False
        return True

    def _through_choices(self, node: ast.AST) -> tuple[ast.AST, ast.AST | None]:
        """Climb from a branch of ``a if c else b`` or ``a or b`` to the whole choice, which
        the alias resolver follows like the branch itself; return it and its parent."""
        parent = self.tree.parent.get(id(node))
        while (
            isinstance(parent, ast.IfExp | ast.BoolOp) and getattr(parent, "test", None) is not node
        ):
            node, parent = parent, self.tree.parent.get(id(parent))
        return node, parent

    # -- findings ------------------------------------------------------------------------

    def _forbidden(self, subject: str, entry: str, *, leaf: bool = False) -> Denial:
        if leaf:
            why = f"`{subject}` names `{entry}`, which {self.ex.id} does not allow"
        elif subject != entry:
            why = f"`{subject}` is `{entry}`, which {self.ex.id} does not allow"
        else:
            why = f"`{entry}` is not allowed in {self.ex.id}"
        why += f": {self.ex.audit_why}" if self.ex.audit_why else " (a forbidden name)"
        instead = self.ex.audit_instead or "write it yourself with tensor operations"
        return Denial("forbidden", why, instead)

    def _extra_denial(self, entry: str) -> Denial:
        why = f"`{entry}` is not allowed in {self.ex.id}"
        why += f": {self.ex.audit_why}" if self.ex.audit_why else ""
        return Denial("extra", why, self.ex.audit_instead or "write it without that")

    def _add(self, node: ast.AST, denial: Denial, *, construct: str | None = None) -> None:
        if id(node) in self.findings:
            return
        line = getattr(node, "lineno", 1)
        self.findings[id(node)] = Finding(
            line=line,
            col=findings.column(self.lines, line, getattr(node, "col_offset", 0)),
            construct=construct or findings.segment(self.lines, node),
            why=denial.why,
            instead=denial.instead,
            function=self.tree.top.get(id(node)),
            rule=denial.rule,
        )

    def _spread(self) -> None:
        """A module-level name bound by a flagged statement (an import, an assignment, a
        function or class with a finding in it) passes its finding to every use elsewhere, so
        the function that uses ``_helper`` answers for what ``_helper`` does."""
        module = self.tree.module_scope
        flagged: dict[int, Finding] = {}  # top-level statement index -> a finding in it
        for node_id, finding in self.findings.items():
            flagged.setdefault(self.tree.statement[node_id], finding)
        loads = [
            n for n in self.tree.nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        ]
        tainted: dict[str, tuple[int, Finding]] = {}  # name -> (binding statement, finding)
        changed = True
        while changed:
            changed = False
            for name, bindings in module.names.items():
                for binding in bindings if name not in tainted else ():
                    index = self.tree.statement.get(id(binding.stmt))
                    if index in flagged:
                        tainted[name] = (index, flagged[index])
                        break
            for node in loads:
                if node.id not in tainted or id(node) in self.findings:
                    continue
                if id(node) in self.flagged_roots:
                    continue
                if self.tree.defining_scope(node.id, self._scope(node)) is not module:
                    continue
                index, origin = tainted[node.id]  # origin: the first finding, not a use of it
                if self.tree.statement[id(node)] == index:
                    continue
                why = f"uses `{node.id}`, which reaches `{origin.construct}` (line {origin.line})"
                self._add(node, Denial(origin.rule, f"{why}: {origin.why}", origin.instead))
                flagged.setdefault(self.tree.statement[id(node)], origin)
                changed = True


def _import_text(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> str:
    name = f"{alias.name} as {alias.asname}" if alias.asname else alias.name
    if isinstance(node, ast.Import):
        return f"import {name}"
    return f"from {node.module} import {name}"


def _plain_targets(node: ast.Assign | ast.AnnAssign | ast.NamedExpr) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return all(isinstance(t, ast.Name) for t in targets)


def _keyword_is(node: ast.Call, name: str, value: object) -> bool:
    return any(
        k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value
        for k in node.keywords
    )


def _numpy_load_safe(node: ast.Call) -> bool:
    """``numpy.load`` is safe with ``allow_pickle`` absent or literally False (no ``**kw``)."""
    if any(k.arg is None for k in node.keywords):
        return False
    if len(node.args) >= 3:
        arg = node.args[2]
        return isinstance(arg, ast.Constant) and arg.value is False
    for k in node.keywords:
        if k.arg == "allow_pickle":
            return isinstance(k.value, ast.Constant) and k.value.value is False
    return True


_TYPE_NODES = (ast.Expression, ast.Name, ast.Attribute, ast.Subscript, ast.Tuple, ast.List,
               ast.Constant, ast.Load, ast.BinOp, ast.BitOr)  # fmt: skip


def _names_a_type(text: str, depth: int = 0) -> bool:
    """Whether a string annotation only names types (``"Value"``, ``"list[Value] | None"``),
    nested quoted names included, so that evaluating it cannot run anything."""
    if depth > 4 or len(text) > 500:
        return False
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in ast.walk(tree):
        if not isinstance(node, _TYPE_NODES):
            return False
        if isinstance(node, ast.BinOp) and not isinstance(node.op, ast.BitOr):
            return False
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if not _names_a_type(node.value, depth + 1):
                return False
    return True
