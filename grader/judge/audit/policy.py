"""What the source audit refuses, and the words a student reads when it does.

Everything here is data: module and API names with the reason they are refused and what to
write instead. The per-exercise part (which modules an exercise may import, its extras) lives
next to ``FORBIDDEN`` in ``reference/exNN_*.py`` as the ``AUDIT`` literal; this module holds the
part that is the same for every exercise.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

# The modules every exercise may import unless its AUDIT literal says otherwise (each with its
# public submodules); exercise 7 adds FILE_IMPORTS, exercise 8 drops torch and numpy.
BASELINE_IMPORTS: tuple[str, ...] = tuple(
    "__future__ typing typing_extensions collections collections.abc dataclasses functools "
    "itertools math cmath random copy numbers abc enum warnings time operator contextlib "
    "json re string statistics fractions decimal heapq bisect array textwrap pprint sys "
    "torch numpy".split()
)
# Modules whose harmless members may be used while the rest stays refused: ``sys`` gives
# output streams, numeric limits and version facts, but also loaded modules, frames and
# profiling hooks (the grader's own included).
SAFE_MEMBERS: dict[str, frozenset[str]] = {
    "sys": frozenset(
        "stdout stderr maxsize maxunicode float_info int_info hash_info float_repr_style "
        "version version_info hexversion implementation platform byteorder getsizeof "
        "getrecursionlimit setrecursionlimit exit".split()
    ),
}
FILE_IMPORTS: tuple[str, ...] = ("os", "pathlib", "tempfile", "io", "contextlib")


@dataclass(frozen=True)
class Denial:
    """One reason to refuse a construct: a rule id (for grouping), why, and what to write."""

    rule: str
    why: str
    instead: str


SYS = Denial(
    "runtime",
    "reaches the interpreter itself: loaded modules, profiling hooks, frames",
    "print for output, raise an exception for errors; `sys.stdout`, `sys.maxsize`, "
    "`sys.float_info` and `sys.setrecursionlimit` are fine",
)


_THREADS = Denial(
    "runtime",
    "starts threads, whose work runs outside what the grader watches",
    "do the work in the function itself, in the calling thread",
)
_PROCESSES = Denial(
    "runtime",
    "starts or signals processes, which run outside what the grader watches",
    "do the work in the function itself, in this process",
)
_NATIVE = Denial(
    "runtime",
    "runs native code or writes memory directly, past every check",
    "write the computation in Python with torch operations",
)
_PICKLE = Denial(
    "unsafe-load",
    "pickled data can carry code that runs when it is loaded, which the audit cannot read",
    "save tensors and plain containers with `torch.save` and read them back with "
    "`torch.load(path, weights_only=True)`",
)
_GRADER = Denial(
    "import",
    "is the grader's own code or its answers: a submission must stand alone",
    "write the code yourself in your file",
)
_COMPILE = Denial(
    "runtime",
    "compiles code into a form the grader's checks cannot watch",
    "write plain eager PyTorch",
)
_INTROSPECT = Denial(
    "runtime",
    "inspects live frames and objects, the grader's own included",
    "pass what a function needs as arguments; print or raise to debug",
)

# Modules (and everything under them) refused in every exercise, with their reason. Anything
# else outside the exercise's allowed imports gets the generic `not_allowed` message.
DENIED_MODULES: dict[str, Denial] = {
    "threading": _THREADS,
    "_thread": _THREADS,
    "concurrent": _THREADS,
    "asyncio": _THREADS,
    "subprocess": _PROCESSES,
    "multiprocessing": _PROCESSES,
    "_posixsubprocess": _PROCESSES,
    "pty": _PROCESSES,
    "torch.multiprocessing": _PROCESSES,
    "torch.distributed": _PROCESSES,
    "signal": Denial(
        "runtime",
        "changes how the process reacts to signals and timers, the grader's timeouts included",
        "remove it: nothing in the exercise needs signals",
    ),
    "atexit": Denial(
        "runtime",
        "runs code after the grader's checks have finished",
        "do the work in the function itself",
    ),
    "gc": Denial(
        "runtime",
        "finds any live object (the grader's included) and tells when it is being measured",
        "keep references to your own objects in your own variables",
    ),
    "inspect": _INTROSPECT,
    "traceback": _INTROSPECT,
    "ctypes": _NATIVE,
    "_ctypes": _NATIVE,
    "cffi": _NATIVE,
    "torch.utils.cpp_extension": _NATIVE,
    "numpy.ctypeslib": _NATIVE,
    "numpy.f2py": _NATIVE,
    "numpy.distutils": _NATIVE,
    "builtins": Denial(
        "dynamic",
        "reaches Python's built-ins as a module, where they can be looked up by string",
        "call the built-in directly (`len(x)`, `min(a, b)`)",
    ),
    "importlib": Denial(
        "dynamic",
        "imports modules by a name computed at run time, which the audit cannot see",
        "import what you need with a plain `import` at the top of the file",
    ),
    "pickle": _PICKLE,
    "_pickle": _PICKLE,
    "marshal": _PICKLE,
    "shelve": _PICKLE,
    "copyreg": _PICKLE,
    "dill": _PICKLE,
    "cloudpickle": _PICKLE,
    "joblib": _PICKLE,
    "torch.package": _PICKLE,
    "torch.hub": Denial(
        "runtime", "downloads and runs code from elsewhere", "write the code in your file"
    ),
    "torch.overrides": Denial(
        "patch",
        "intercepts torch calls, the grader's own included",
        "use plain tensors and torch functions",
    ),
    "torch.library": Denial(
        "patch",
        "registers kernels that replace torch's own, for the grader too",
        "write the computation as a Python function",
    ),
    "torch.jit": _COMPILE,
    "torch.compiler": _COMPILE,
    "torch.export": _COMPILE,
    "torch.onnx": _COMPILE,
    "torch.fx": Denial(
        "dynamic",
        "builds code from a graph whose calls can name methods by string",
        "write the computation as plain Python",
    ),
    "torch.utils.benchmark": Denial(
        "dynamic",
        "runs statements given as strings, which the audit cannot read",
        "time your own code with `time.perf_counter()`",
    ),
    "grader": _GRADER,
    "reference": _GRADER,
    "solutions": _GRADER,
    "tests": _GRADER,
}

# APIs refused in every exercise (dotted names, matched by the object they name, so a
# re-export such as `torch.os.system` is the same as `os.system`).
DENIED_APIS: dict[str, Denial] = {
    "sys.modules": Denial(
        "dynamic",
        "looks modules up by string (the grader's included) and can replace them",
        "import what you need with a plain `import`",
    ),
    "sys._getframe": _INTROSPECT,
    "sys.setprofile": Denial(
        "runtime",
        "installs or removes the interpreter's profiling and tracing hooks, which the grader uses",
        "remove it: nothing in the exercise needs them",
    ),
    "operator.attrgetter": Denial(
        "dynamic",
        "looks attributes up by a string, where the audit cannot see which",
        "write the attribute access itself: `obj.name`",
    ),
    "torch.compile": _COMPILE,
    "typing.get_type_hints": Denial(
        "dynamic",
        "evaluates annotations written as strings, which is running code the audit reads as text",
        "read `func.__annotations__` if you must, or annotate without quotes",
    ),
    "torch._C.DisableTorchFunction": Denial(
        "patch",
        "switches off torch's function overrides, which the grader's checks use",
        "remove it: plain tensors need no overrides switched off",
    ),
    "torch.ops": Denial(
        "dynamic",
        "reaches every kernel by name, past the names the exercise forbids",
        "call the public function you need (`torch.x`, `torch.nn.functional.x`)",
    ),
}
for _alias, _same in (
    ("sys.settrace", "sys.setprofile"),
    ("sys.getprofile", "sys.setprofile"),
    ("sys.gettrace", "sys.setprofile"),
    ("sys.monitoring", "sys.setprofile"),
    ("threading.setprofile", "sys.setprofile"),
    ("threading.settrace", "sys.setprofile"),
    ("operator.methodcaller", "operator.attrgetter"),
    ("torch._C.DisableTorchFunctionSubclass", "torch._C.DisableTorchFunction"),
    ("typing_extensions.get_type_hints", "typing.get_type_hints"),
    ("typing_extensions.get_annotations", "typing.get_type_hints"),
):
    DENIED_APIS[_alias] = DENIED_APIS[_same]
for _name in "fork forkpty system popen kill killpg register_at_fork".split():
    DENIED_APIS[f"os.{_name}"] = _PROCESSES
for _name in ("os._exit", "os.abort"):
    DENIED_APIS[_name] = Denial(
        "runtime",
        "ends the process from inside the grader's run, cutting its checks short",
        "return a value, or raise an exception if something is wrong",
    )
for _name in dir(sys):  # sys's other members: its hooks, module table, path, argv, ...
    _value = getattr(sys, _name, None)
    if _name.startswith("_") or _name in SAFE_MEMBERS["sys"]:
        continue
    if isinstance(_value, (str, bytes, int, float, bool, tuple, type(None))):
        continue  # facts (sys.abiflags, sys.api_version): harmless, and by-object matching
        # of a shared constant would refuse unrelated code
    DENIED_APIS.setdefault(f"sys.{_name}", SYS)
# os.exec*, os.spawn*, os.posix_spawn* are matched by prefix (see knowledge.denied_apis).
OS_PROCESS_PREFIXES: tuple[str, ...] = ("exec", "spawn", "posix_spawn")

# Loads that can run code from the file unless told not to: the keyword that makes them safe.
TORCH_LOAD = Denial(
    "unsafe-load",
    "`torch.load` without `weights_only=True` can unpickle objects whose loading runs code the "
    "audit cannot read (and its default depends on the torch version and on environment "
    "variables)",
    "pass `weights_only=True` and save only tensors and plain containers",
)
NUMPY_LOAD = Denial(
    "unsafe-load",
    "`numpy.load` with `allow_pickle` lets the file carry code that runs when it is loaded",
    "save arrays (or lists) and load them with the default `allow_pickle=False`",
)

# Built-in functions refused when the file has not defined a name of its own with that name.
_RUNS_STRINGS = Denial(
    "dynamic",
    "runs code from a string, which the audit cannot read",
    "write the code itself in the file",
)
_NAMESPACE = Denial(
    "dynamic",
    "reads a namespace as a dictionary, where any name can be looked up by string",
    "refer to names directly (`vars(self)` for your own object's attributes is fine)",
)
DENIED_BUILTINS: dict[str, Denial] = {
    "eval": _RUNS_STRINGS,
    "exec": _RUNS_STRINGS,
    "compile": _RUNS_STRINGS,
    "__import__": DENIED_MODULES["importlib"],
    "globals": _NAMESPACE,
    "locals": _NAMESPACE,
    "vars": _NAMESPACE,
    "breakpoint": Denial(
        "runtime", "starts a debugger, which runs whatever it is told", "remove it"
    ),
    "__builtins__": DENIED_MODULES["builtins"],
}
# getattr & co. are fine with a literal name (the audit reads it like `obj.name`).
ATTR_BUILTINS: frozenset[str] = frozenset({"getattr", "setattr", "delattr", "hasattr"})
DYNAMIC_ATTR = Denial(
    "dynamic",
    "looks an attribute up by a name computed at run time, where the audit cannot see which",
    'use a literal name, `getattr(obj, "name")`, or plain `obj.name` (to set many attributes '
    "of your own object: `self.__dict__.update(values)`)",
)
DYNAMIC_CLASS = Denial(
    "dynamic",
    "`type(name, bases, namespace)` builds a class from strings the audit cannot read",
    "write a `class` statement",
)
MODULE_AS_VALUE = Denial(
    "dynamic",
    "passes a module around as a value: the audit follows a module only where it is used by "
    "name (`module.name`)",
    "use the module by name where you need it: `torch.x`",
)
NAMESPACE_DICT = Denial(
    "dynamic",
    "`__dict__` looks attributes up by string, where the audit cannot see which",
    "use attribute access, `obj.name` (`self.__dict__` for your own object is fine)",
)

# Attributes of frames, tracebacks, generators and coroutines: they reach other code's frames.
FRAME_ATTRS: frozenset[str] = frozenset(
    "f_back f_globals f_locals f_builtins f_code f_trace tb_frame tb_next gi_frame gi_code "
    "gi_yieldfrom cr_frame cr_code cr_await ag_frame ag_code __traceback__".split()
)
FRAME = Denial(
    "runtime",
    "walks interpreter frames, which reach the grader's own variables",
    "pass what a function needs as arguments",
)

# Dunder attributes: harmless to read anywhere; harmless as a direct call (`Base.__init__(..)`);
# harmless on `super()`; `__dict__` harmless on the file's own `self`/`cls`.
HARMLESS_DUNDERS: frozenset[str] = frozenset(
    {"__name__", "__qualname__", "__doc__", "__module__", "__class__", "__version__"}
)
WRITABLE_DUNDERS: frozenset[str] = frozenset({"__name__", "__qualname__", "__doc__"})
CALL_DUNDERS: frozenset[str] = frozenset({"__init__", "__new__"})
SUPER_DUNDERS: frozenset[str] = frozenset(
    "__init__ __new__ __init_subclass__ __repr__ __str__ __format__ __eq__ __ne__ __hash__ "
    "__lt__ __le__ __gt__ __ge__ __bool__ __len__ __iter__ __contains__ __getitem__ "
    "__setitem__ __delitem__ __call__ __enter__ __exit__ __getstate__ __setstate__ "
    "__getattr__ __getattribute__ __setattr__ __delattr__".split()
)
# Dunder names a file may read without defining them.
HARMLESS_DUNDER_NAMES: frozenset[str] = frozenset(
    {"__name__", "__file__", "__doc__", "__debug__", "__class__", "__annotations__"}
)
DUNDER = Denial(
    "private",
    "reaches Python's object machinery, from which any object (the grader's included) can be found",
    "use `isinstance(x, T)`, `type(x)` or the public attribute you need",
)
# Defining these makes torch hand every call on the object (the grader's too) to the file.
HOOK_DUNDERS: frozenset[str] = frozenset({"__torch_function__", "__torch_dispatch__"})
HOOK = Denial(
    "patch",
    "changes what torch does with these objects, in the grader's own calls too",
    "use plain tensors: a tensor subclass is not needed here",
)

PRIVATE_ATTR = Denial(
    "private",
    "is private to the library that defines it: it can reach what the exercise forbids past "
    "the audit, and it changes without notice",
    "use the library's public API",
)
PRIVATE_MODULE = Denial(
    "private",
    "is a private module: it reaches past the names the exercise forbids and changes without "
    "notice",
    "import the public module instead (`torch`, `torch.nn.functional`, ...)",
)
# Writing into these is configuring torch, not patching it (`torch.backends.cudnn.deterministic`).
SETTINGS_MODULES: tuple[str, ...] = ("torch.backends",)
PATCH = Denial(
    "patch",
    "writes into a library, which changes it for the grader's own code too",
    "keep your values in your own variables and objects",
)
STAR_IMPORT = Denial(
    "import",
    "a star import hides which names the file uses",
    "import the names you need: `from torch import Tensor`",
)
RELATIVE_IMPORT = Denial(
    "import",
    "a relative import reaches files next to the submission, which are not part of it",
    "your file must stand alone: import installed modules only",
)
STRING_ANNOTATION = Denial(
    "dynamic",
    "an annotation written as a string is code that runs if anything evaluates it "
    "(`functools.singledispatch` does), and this one does more than name a type",
    "write the annotation without quotes: with `from __future__ import annotations` it is "
    "never evaluated",
)
UNREADABLE = Denial(
    "unreadable",
    "the file is not valid Python, so the audit cannot read it",
    "fix the error so that the file imports",
)


def under(name: str, prefix: str) -> bool:
    """Whether dotted ``name`` is ``prefix`` or inside it (``torch.nn`` is under ``torch``)."""
    return name == prefix or name.startswith(prefix + ".")


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def not_allowed(module: str, exercise_id: str, allowed: tuple[str, ...]) -> Denial:
    """The generic refusal of an import outside the exercise's list."""
    return Denial(
        "import",
        f"`{module}` is not among the modules {exercise_id} may import "
        f"({', '.join(allowed) or 'none'})",
        "remove the import: the exercise needs only the modules listed",
    )


@functools.lru_cache(maxsize=4096)
def module_denial(module: str, exercise_id: str, allowed: tuple[str, ...]) -> Denial | None:
    """Why importing (or reaching) ``module`` is refused, or None if it is allowed."""
    for prefix, denial in DENIED_MODULES.items():
        if under(module, prefix):
            return denial
    for prefix, safe in SAFE_MEMBERS.items():
        if under(module, prefix) and module != prefix:
            member = module[len(prefix) + 1 :].split(".", 1)[0]
            if member not in safe:
                return SYS if prefix == "sys" else not_allowed(module, exercise_id, allowed)
    if module != "__future__" and any(part.startswith("_") for part in module.split(".")):
        return PRIVATE_MODULE
    if any(under(module, ok) for ok in allowed):
        return None
    return not_allowed(module, exercise_id, allowed)
