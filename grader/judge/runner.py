"""Grading one exercise (or several): submission -> worker -> pytest suites -> scorecard.

This is the single code path behind every use: a student's ``grade exercise-3``, the classroom
workflow and an instructor's regrade all end up in :func:`grade`.
"""

from __future__ import annotations

import os
import platform
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import grader
from grader.judge import interrupts, lifecycle, sandbox
from grader.judge.client import WorkerClient, WorkerSpec, close_zygote, start_zygote
from grader.judge.exercises import SUITES_DIR, Exercise
from grader.judge.failures import GraderError
from grader.judge.needs import bindings_by_line, defined_names
from grader.judge.sandbox.zygote import Zygote
from grader.judge.scorecard import (
    Bundle,
    Environment,
    Integrity,
    IntegrityFinding,
    Scorecard,
    Submission,
    TestResult,
)
from grader.judge.submission import Resolved, resolve


@dataclass
class Options:
    device: str = "auto"  # cpu | cuda | auto (cpu, plus cuda when present)
    seed: int | None = None
    isolation: str = "auto"  # auto | bwrap | unshare | process
    visibilities: tuple[str, ...] = ("public", "hidden")
    select: str | None = None  # a pytest -k expression: grade only matching tests
    require_isolation: str | None = None  # None | "landlock" | "bwrap": refuse anything weaker
    # False only in the grader's own tests of the runtime guard behind it (never from the CLI).
    audit: bool = True
    # False only to check references, which are built on the very functions students may not
    # call: then no call is treated as forbidden.
    check_forbidden: bool = True

    def resolved_seed(self) -> int:
        if self.seed is None:
            self.seed = secrets.randbits(31)
        return self.seed


@dataclass
class Prepared:
    exercise: Exercise
    submission: Resolved
    client: WorkerClient
    integrity: Integrity | None = None  # the judge's reading of the source (None: not audited)
    defined: frozenset[str] | None = None  # the names the source binds at its top level
    zygote: Zygote | None = None  # the worker template this grading started (closed with it)


def warm_up(optimizers: bool = False) -> None:
    """Import what grading needs (torch, pytest and its plugins, the audit) with SIGINT and
    SIGTERM held back: an interrupt that lands inside an import's C initialisation can abort
    the process, or come out wrapped as another error. Delivered right after, it interrupts
    plain Python code, which writes the scorecard.

    ``optimizers``: also what torch imports when the first optimizer is made (torch._dynamo,
    ~2 s), for runs whose references make one -- done while the worker template starts."""
    from grader.judge import interrupts

    with interrupts.deferred():
        import _pytest.cacheprovider  # noqa: F401 - loaded by every pytest.main
        import pytest  # noqa: F401
        import torch  # noqa: F401

        import grader.judge.audit  # noqa: F401
        import grader.judge.plugin  # noqa: F401

        if optimizers:
            import torch._dynamo  # noqa: F401


# Where a grading gets its worker template when none is passed: None starts one per grading
# (or per run, in grade_many). The grader's own test suite sets a provider that shares one
# template per test process -- every submission there is ours, and it saves a torch import per
# grading; a real run never shares a template between two students.
TemplateProvider = Callable[[list[str], "Options"], Zygote | None]
shared_templates: TemplateProvider | None = None


def _template_for(modules: list[str], opts: Options) -> tuple[Zygote | None, bool]:
    """A worker template for ``modules`` and whether this grading owns (and closes) it."""
    if shared_templates is not None:
        return shared_templates(modules, opts), False
    return start_zygote(modules, mode=opts.isolation, cuda=workers_need_cuda(opts)), True


def prepare(ex: Exercise, root: Path, opts: Options, zygote: Zygote | None = None) -> Prepared:
    """Resolve the submission and start its worker (so torch imports while the judge warms up).

    Workers are forked from ``zygote`` (the run's worker template) when one is given; else
    this grading starts its own template, which :func:`grade` closes."""
    check_isolation(opts)
    sub = resolve(ex, root)
    owned = None
    if zygote is None and sub.error is None:
        zygote, owns = _template_for([ex.module], opts)
        owned = zygote if owns else None
    try:
        warm_up()  # the judge's own imports, while the template imports torch in its sandbox
    except BaseException:
        if owned is not None:
            close_zygote(owned)
        raise
    spec = WorkerSpec(
        module=ex.module,
        submission=sub.path if sub.path.is_file() else sub.file,  # the file the student knows
        source=sub.data,
        forbidden=tuple(ex.forbidden) if opts.check_forbidden else (),
        mode=opts.isolation,
        cuda=workers_need_cuda(opts),
        unusable=sub.error,
        zygote=zygote,
    )
    try:
        client = WorkerClient(spec)
    except RuntimeError as exc:
        if owned is not None:
            close_zygote(owned)
        raise GraderError(str(exc)) from None
    try:
        client.start()
        # While the worker imports torch, the judge reads the source it will run.
        source = (sub.data or b"").decode("utf-8", "replace")
        audited = opts.check_forbidden and opts.audit and sub.error is None
        integrity = audit(ex, source, sub.path.name) if audited else None
    except OSError as exc:
        client.close()
        if owned is not None:
            close_zygote(owned)
        raise GraderError(f"could not start the sandboxed worker: {exc}") from None
    except BaseException:
        client.close()
        if owned is not None:
            close_zygote(owned)
        raise
    defined = defined_names(source) if sub.data is not None else None
    return Prepared(ex, sub, client, integrity, defined, owned)


def workers_need_cuda(opts: Options) -> bool:
    """Whether workers must be able to use CUDA (their sandbox then allows the GPU devices)."""
    return opts.device in ("cuda", "auto")


def audit(ex: Exercise, source: str, filename: str) -> Integrity:
    """The judge's source audit of ``source`` (see :mod:`grader.judge.audit`), as data.

    Fails closed: if the audit itself breaks on a file, the whole file counts as unreadable
    (a grader bug then shows as a loud failure, never as a way around the rules)."""
    from grader.judge.audit import audit_source

    try:
        found = audit_source(source, ex, filename=filename)
    except Exception as exc:  # a grader bug must not let a file past the audit
        why = f"the grader could not check this file ({type(exc).__name__}); please report it"
        return Integrity(
            audited=True,
            findings=[
                IntegrityFinding(
                    line=1, col=1, code=filename, why=why, instead="", function=None,
                    rule="unreadable",
                )
            ],
        )  # fmt: skip
    binds = bindings_by_line(source)
    lookups = {"forbidden", "extra", "import", "dynamic", "private", "unsafe-load"}
    return Integrity(
        audited=True,
        findings=[
            IntegrityFinding(
                line=f.line, col=f.col, code=f.construct, why=f.why, instead=f.instead,
                function=f.function, rule=f.rule,
                binds=list(binds.get(f.line, ()))
                if f.function is None and f.rule in lookups
                else [],
            )
            for f in found
        ],
    )  # fmt: skip


def check_isolation(opts: Options) -> None:
    """Refuse to grade (exit 2) when this machine's isolation is weaker than required."""
    if opts.require_isolation is None:
        return
    try:
        caps = sandbox.capabilities(opts.isolation)
    except RuntimeError as exc:
        raise GraderError(str(exc)) from None
    if not sandbox.meets(caps.level, opts.require_isolation):
        raise GraderError(
            f"--require-isolation {opts.require_isolation}: this machine offers only "
            f"'{caps.level}' ({describe(caps)}); grade where bubblewrap works, or where the "
            "kernel has Landlock (5.13+) and libseccomp is installed"
        )


def describe(caps: sandbox.Capabilities) -> str:
    parts = [f"mode {caps.mode}"]
    parts.append(f"Landlock ABI {caps.landlock_abi}" if caps.landlock_abi else "no Landlock")
    parts.append("seccomp" if caps.seccomp else "no seccomp")
    return ", ".join(parts)


def _devices(opts: Options) -> tuple[list[str], bool]:
    import torch

    cuda = torch.cuda.is_available()
    if opts.device == "cpu":
        return ["cpu"], cuda
    if opts.device == "cuda":
        if not cuda:
            raise GraderError("--device cuda was asked for, but this machine has no CUDA device")
        return ["cuda"], cuda
    return ["cpu", "cuda"], cuda


def _pytest_args(ex: Exercise, opts: Options) -> list[str]:
    suites = ex.suites()
    files = [str(suites[v]) for v in opts.visibilities if v in suites]
    if not files:
        raise GraderError(f"{ex.id} has no test suite in {SUITES_DIR}")
    return [
        *files,
        "-c", str(SUITES_DIR / "pytest.ini"),
        "--rootdir", str(SUITES_DIR),
        "--noconftest",
        "--import-mode=importlib",
        "-p", "no:cacheprovider",
        "-p", "no:terminal",
        "-p", "no:warnings",
        "-p", "no:legacypath",
        # Both call gc.collect() five times per session: with torch's heap, seconds per
        # exercise spent looking for exceptions the judge's own code never leaves unraised.
        "-p", "no:unraisableexception",
        "-p", "no:threadexception",
        *(["-k", opts.select] if opts.select else []),
    ]  # fmt: skip


def _clean_pytest_env() -> None:
    for var in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        os.environ.pop(var, None)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"


def grade(prepared: Prepared, opts: Options) -> Scorecard:
    """Run the exercise's suites against the prepared submission and build its scorecard."""
    import pytest
    import torch

    from grader.judge.plugin import GraderPlugin

    ex, sub, client = prepared.exercise, prepared.submission, prepared.client
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    seed = opts.resolved_seed()
    devices, cuda = _devices(opts)
    plugin = GraderPlugin(
        client=client,
        devices=devices,
        grade_seed=seed,
        cuda_available=cuda,
        in_place=frozenset(ex.in_place),
        module=ex.module,
        defined=prepared.defined,
    )
    _clean_pytest_env()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # references run on tiny inputs; the worker needs the other core
    try:
        code = pytest.main(_pytest_args(ex, opts), plugins=[plugin])
    finally:
        torch.set_num_threads(threads)
        client.close()
        if prepared.zygote is not None:
            close_zygote(prepared.zygote)
    # pytest answers Ctrl-C and a collection error with the same exit code
    interrupted = code == pytest.ExitCode.INTERRUPTED and interrupts.received()
    if (
        client.starts
        and opts.require_isolation
        and not sandbox.meets(client.level, opts.require_isolation)
    ):
        raise GraderError(
            f"--require-isolation {opts.require_isolation}: the worker ran with only "
            f"'{client.level}' isolation ({', '.join(client.layers)})"
        )
    if plugin.collection_errors:
        raise GraderError("a test suite failed to load:\n" + "\n".join(plugin.collection_errors))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED and opts.select:
        raise GraderError(f"no test of {ex.id} matches -k {opts.select!r}")
    finished = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    if not interrupted and (code not in finished or not plugin.results):
        raise GraderError(f"pytest stopped with exit code {int(code)} while grading {ex.id}")
    plugin.void(prepared.integrity)
    tests = plugin.results
    score, max_score = lifecycle.totals(tests)
    tested = sorted({t.device for t in tests if t.device and t.status != "skipped"})
    return Scorecard(
        exercise=ex.id,
        title=ex.title,
        score=score,
        max_score=max_score,
        submission=Submission(
            path=str(sub.path), sha256=sub.sha256, error=sub.error, notes=sub.notes
        ),
        seed=seed,
        environment=Environment(
            python=platform.python_version(),
            torch=torch.__version__,
            grader=grader.__version__,
            platform=f"{sys.platform}-{platform.machine()}",
            devices_tested=tested or ["cpu"],
            isolation=client.layers or [f"{client.mode} (worker not started: {sub.error})"],
            isolation_mode=client.mode,
            isolation_level=client.level if client.starts else client.caps.level,
            landlock_abi=client.landlock_abi,
        ),
        started_at=started,
        duration_s=round(time.perf_counter() - t0, 3),
        interrupted=interrupted,
        integrity=prepared.integrity,
        tests=tests,
    )


def max_points(ex: Exercise, opts: Options) -> float:
    """What ``ex`` is worth on this machine's CPU run, counted without running anything
    (0 when its suites cannot even be collected)."""
    import torch

    from grader.judge.collect import points_by_visibility

    try:
        cuda = workers_need_cuda(opts) and torch.cuda.is_available()
        points = points_by_visibility(ex, cuda=cuda)
    except Exception:  # a suite that fails to load: the failed card says why
        return 0.0
    return float(sum(p for v, p in points.items() if v in opts.visibilities))


def failed_card(
    ex: Exercise, root: Path, opts: Options, error: str, *, interrupted: bool = False
) -> Scorecard:
    """The scorecard written when grading itself could not run: zero out of what the exercise
    is worth, with the reason."""
    worth = 0.0 if interrupted else max_points(ex, opts)
    return Scorecard(
        exercise=ex.id,
        title=ex.title,
        score=0.0,
        max_score=worth,
        submission=Submission(path=str(root), error=error),
        seed=opts.resolved_seed(),
        environment=Environment(
            python=platform.python_version(),
            torch="unknown",
            grader=grader.__version__,
            platform=f"{sys.platform}-{platform.machine()}",
            devices_tested=[],
            isolation=[],
            isolation_mode=opts.isolation,
        ),
        started_at=datetime.now(timezone.utc),
        duration_s=0.0,
        interrupted=interrupted,
        tests=[
            TestResult(
                id="grading",
                name="grading could run",
                status="error",
                score=0.0,
                max_score=worth,
                message=error,
                visibility="public",
                duration_s=0.0,
            )
        ],
    )


def _prepare_or_error(
    ex: Exercise, root: Path, opts: Options, zygote: Zygote | None
) -> Prepared | GraderError:
    """Prepare ``ex``; a failure becomes the GraderError its own scorecard will carry."""
    try:
        return prepare(ex, root, opts, zygote)
    except GraderError as exc:
        return exc
    except Exception as exc:  # a grader bug: charged to this exercise, not its neighbour
        return GraderError(f"internal error preparing {ex.id}: {type(exc).__name__}: {exc}")


def interrupted_bundle(opts: Options) -> Bundle:
    """The scorecard of a ``grade all`` interrupted before any exercise was graded."""
    return Bundle(
        score=0.0,
        max_score=0.0,
        seed=opts.resolved_seed(),
        started_at=datetime.now(timezone.utc),
        duration_s=0.0,
        interrupted=True,
        exercises=[],
    )


def grade_many(
    exercises: list[Exercise], root: Path, opts: Options, template: Zygote | None = None
) -> tuple[Bundle, list[str]]:
    """Grade several exercises, starting each worker while the previous exercise runs.

    Workers are forked from ``template`` when one is given (the caller keeps it: a class's
    grading process shares one between its students), else from a template of this run's own.
    SIGINT/SIGTERM stop it between or inside exercises: the bundle then holds what finished
    (the exercise being graded with its finished tests) and is marked ``interrupted``.
    """
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    seed = opts.resolved_seed()
    cards: list[Scorecard] = []
    errors: list[str] = []
    upcoming: Prepared | GraderError | None = None
    interrupted = False
    zygote: Zygote | None = None
    owns = False
    try:
        # One worker template for the whole run: every exercise's workers are forked from it.
        if template is not None and template.alive:
            zygote, owns = template, False
        else:
            zygote, owns = _template_for([ex.module for ex in exercises], opts)
        warm_up(optimizers=len(exercises) > 1)  # while the template imports torch
        for i, ex in enumerate(exercises):
            current = upcoming or _prepare_or_error(ex, root, opts, zygote)
            upcoming = None
            if i + 1 < len(exercises):  # its worker starts while this one is graded
                upcoming = _prepare_or_error(exercises[i + 1], root, opts, zygote)
            try:
                if isinstance(current, GraderError):
                    raise current
                card = grade(current, opts)
            except GraderError as exc:
                errors.append(f"{ex.id}: {exc}")
                card = failed_card(ex, root, opts, str(exc))
            except Exception as exc:  # a grader bug in one exercise must not lose the others
                errors.append(f"{ex.id}: internal error {type(exc).__name__}: {exc}")
                card = failed_card(ex, root, opts, f"internal error: {type(exc).__name__}")
            cards.append(card)
            if card.interrupted:
                interrupted = True
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if isinstance(upcoming, Prepared):
            upcoming.client.close()
        if zygote is not None and owns:
            close_zygote(zygote)
    bundle = Bundle(
        score=round(sum(c.score for c in cards), 6),
        max_score=round(sum(c.max_score for c in cards), 6),
        seed=seed,
        started_at=started,
        duration_s=round(time.perf_counter() - t0, 3),
        interrupted=interrupted,
        exercises=cards,
    )
    return bundle, errors
