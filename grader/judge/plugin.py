"""The pytest plugin that turns instructors' plain pytest suites into a scorecard.

Suites use three fixtures and two markers:

- ``student`` -- a proxy for the submission: ``student.clip_grad_norm(params, 1.0)`` ships the
  arguments to the worker, runs the student's function there and returns the result. The
  judge's own argument tensors stay pristine -- so expected values computed from them after
  the call cannot be steered by a student who writes into their inputs -- except for the
  functions the exercise declares ``IN_PLACE`` (``clip_grad_norm``), whose changes to values
  and ``.grad`` are applied back. ``student.after(x)`` is ``x`` as the student's code left it
  (for tests that check inputs are left alone). ``student.scenario("name", **data)`` runs
  trusted harness code in the worker. ``student.timeout(30).fn(...)`` allows a slow call
  more time.
- ``device`` -- parametrizes a test over the devices being graded (``cpu``, ``cuda``).
- ``seed`` -- an int for the test's random inputs: fixed for public tests, derived from the
  grade-time seed for hidden ones. torch, ``random`` and NumPy are seeded with it too.
- ``@pytest.mark.points(n)`` (default 1) and ``@pytest.mark.timeout(s)`` (per student call).

Visibility comes from the folder (``suites/public`` or ``suites/hidden``).
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
import torch

from grader.judge.client import WorkerClient
from grader.judge.failures import Failure, ForbiddenUse
from grader.judge.needs import scenario_needs
from grader.judge.scorecard import Integrity, IntegrityFinding, TestResult
from grader.protocol.codec import AsIter, tensors_in

DEFAULT_TIMEOUT_S = 10.0


@dataclass
class _TestCalls:
    """What one test's student calls share: the names used, the inputs as the student left
    them, which functions are in place by contract, and what the judge knows of the
    submission (its exercise module and the names its source defines)."""

    in_place: frozenset[str]
    module: str = ""
    defined: frozenset[str] | None = None
    used: list[str] = field(default_factory=list)
    after: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def use(self, name: str) -> None:
        if name not in self.used:
            self.used.append(name)


class StudentProxy:
    """Calls into the submission, through the worker. Never imports student code."""

    def __init__(self, client: WorkerClient, calls: _TestCalls, timeout: float) -> None:
        self._client = client
        self._calls = calls
        self._timeout = timeout

    def timeout(self, seconds: float) -> StudentProxy:
        return StudentProxy(self._client, self._calls, seconds)

    def after(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` as the student's code left it in the last call that was given it."""
        mine, theirs = self._calls.after.get(id(tensor), (None, tensor))
        return theirs if mine is tensor else tensor

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._call(name, list(args), kwargs)

        call.__name__ = name
        return call

    def _call(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        self._calls.use(name)
        args = [AsIter(list(a)) if isinstance(a, Iterator) else a for a in args]
        sent = tensors_in((args, kwargs))
        reply = self._client.request("call", name, self._timeout, args=args, kwargs=kwargs)
        after = reply.get("args_after") or []
        if len(after) != len(sent):
            raise Failure(
                f"{name}: the worker sent back {len(after)} arguments, expected {len(sent)}"
            )
        if name in self._calls.in_place:
            _write_back(sent, after, name)
        else:
            for mine, theirs in zip(sent, after):
                if isinstance(theirs, torch.Tensor):
                    self._calls.after[id(mine)] = (mine, theirs.detach().to(mine.device))
        return reply.get("result")

    def scenario(
        self, name: str, *, timeout: float = 60.0, needs: tuple[str, ...] = (), **kwargs: Any
    ) -> Any:
        """Run trusted harness code ``grader/worker/scenarios/<module>.py::name`` in the worker.

        ``needs`` names the student functions/classes it calls: if one of them has already
        crashed or hung twice, the scenario fails at once instead of waiting out its timeout.
        """
        calls = self._calls
        known = scenario_needs(calls.module, name, kwargs, calls.defined) | set(needs)
        for needed in sorted(known):  # the judge's own list; the worker's report only adds
            calls.use(needed)
        reply = self._client.request("scenario", name, timeout, needs=needs, kwargs=kwargs)
        for used in reply["used"]:
            calls.use(used)
        missing = sorted(known - calls.defined) if calls.defined is not None else []
        if missing:  # the worker says it ran, but the code it needs is not in the file
            raise Failure(
                f"your file does not define {', '.join(missing)}, which this test runs: "
                "define it with the name the exercise gives"
            )
        return reply.get("result")

    def fresh_worker(self) -> None:
        """Make the next request run in a brand-new worker process.

        For tests whose point is what survives a process boundary (a checkpoint written by one
        process and loaded by another): anything the student's code kept in memory -- on
        ``builtins``, in a module global -- dies with the old worker, and the new one starts
        in new folders. It is launched now, so it imports torch while the judge works on.
        """
        self._client.close_worker()
        self._client.start()


def _write_back(sent: list[torch.Tensor], after: list[Any], name: str) -> None:
    """Apply the worker's in-place changes to the judge's own argument tensors."""
    with torch.no_grad():
        for mine, theirs in zip(sent, after):
            if not isinstance(theirs, torch.Tensor):
                raise Failure(f"{name}: an argument came back as {type(theirs).__name__}")
            theirs_grad = theirs.grad
            theirs = theirs.detach().to(mine.device)
            if theirs.shape == mine.shape and theirs.dtype == mine.dtype:
                if not torch.equal(mine, theirs):
                    mine.copy_(theirs)
            else:
                mine.data = theirs
            if not mine.is_leaf:
                continue
            if theirs_grad is None:
                mine.grad = None
            elif (
                mine.grad is not None
                and mine.grad.shape == theirs_grad.shape
                and mine.grad.dtype == theirs_grad.dtype
            ):
                mine.grad.copy_(theirs_grad.to(mine.grad.device))
            elif theirs_grad.shape == mine.shape and theirs_grad.dtype == mine.dtype:
                mine.grad = theirs_grad.to(mine.device)
            else:
                raise Failure(
                    f"{name} set a .grad of shape {tuple(theirs_grad.shape)} and dtype "
                    f"{theirs_grad.dtype} on a tensor of shape {tuple(mine.shape)} ({mine.dtype})"
                )


@dataclass(eq=False)  # pytest keeps plugins in sets: identity hashing
class GraderPlugin:
    client: WorkerClient
    devices: list[str]
    grade_seed: int
    cuda_available: bool
    in_place: frozenset[str] = frozenset()
    module: str = ""
    defined: frozenset[str] | None = None
    results: list[TestResult] = field(default_factory=list)
    collection_errors: list[str] = field(default_factory=list)
    _calls: dict[str, _TestCalls] = field(default_factory=dict)

    # -- fixtures ----------------------------------------------------------------------------
    @pytest.fixture
    def student(self, request: pytest.FixtureRequest) -> StudentProxy:
        marker = request.node.get_closest_marker("timeout")
        timeout = float(marker.args[0]) if marker else DEFAULT_TIMEOUT_S
        calls = self._calls.setdefault(
            request.node.nodeid, _TestCalls(self.in_place, self.module, self.defined)
        )
        return StudentProxy(self.client, calls, timeout)

    @pytest.fixture
    def seed(self, request: pytest.FixtureRequest) -> int:
        return self._seed_for(request.node)

    @pytest.fixture(autouse=True)
    def _seed_everything(self, request: pytest.FixtureRequest) -> None:
        s = self._seed_for(request.node)
        torch.manual_seed(s)
        random.seed(s)
        try:
            import numpy as np

            np.random.seed(s % 2**32)
        except ImportError:  # pragma: no cover
            pass

    def _seed_for(self, item: pytest.Item) -> int:
        base = f"{self.grade_seed}:" if visibility_of(item) == "hidden" else ""
        return zlib.crc32(f"{base}{item.nodeid.split('::', 1)[-1]}".encode())

    # -- hooks -------------------------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "points(n): points this test is worth (default 1)")
        config.addinivalue_line("markers", "timeout(s): seconds each student call may take")

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "device" not in metafunc.fixturenames:
            return
        params = []
        for dev in self.devices:
            marks = []
            if dev == "cuda" and not self.cuda_available:
                marks.append(pytest.mark.skip(reason="no CUDA device on this machine"))
            params.append(pytest.param(dev, id=dev, marks=marks))
        metafunc.parametrize("device", params)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Iterator[None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.results.append(self._result(item, call, report))

    def _result(
        self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
    ) -> TestResult:
        marker = item.get_closest_marker("points")
        points = float(marker.args[0]) if marker else 1.0
        device = getattr(item, "callspec", None) and item.callspec.params.get("device")
        message = hint = ""
        voided_by: Literal["audit", "runtime guard"] | None = None
        if report.skipped:
            status, score, points = "skipped", 0.0, 0.0
            longrepr = report.longrepr
            message = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
            message = message.removeprefix("Skipped: ")
        elif report.passed:
            status, score = "passed", points
        else:
            exc = call.excinfo.value if call.excinfo else None
            score = 0.0
            if isinstance(exc, Failure):
                status, message, hint = "failed", exc.message, exc.hint
                voided_by = "runtime guard" if isinstance(exc, ForbiddenUse) else None
            else:
                status = "error"
                message = f"the grader could not check this result ({type(exc).__name__}: {exc})"
        return TestResult(
            id=f"{visibility_of(item)}/{item.name}",
            name=test_title(item),
            status=status,
            score=score,
            max_score=points,
            message=message,
            hint=hint,
            device=str(device) if device else None,
            visibility=visibility_of(item),  # type: ignore[arg-type]
            duration_s=round(report.duration, 4),
            functions=list(self._calls[item.nodeid].used) if item.nodeid in self._calls else [],
            voided_by=voided_by,
        )

    # -- after the run -----------------------------------------------------------------------
    def void(self, integrity: Integrity | None) -> None:
        """Void the tests of every function the judge's audit found a disallowed construct in
        (every test, for one at module level), then the tests of every function the worker's
        guard saw make a forbidden call. Skipped tests stay skipped."""
        findings = integrity.findings if integrity is not None else []
        anywhere = [f for f in findings if f.function is None and not f.binds]
        for result in self.results:
            if result.status == "skipped":
                continue
            names = set(result.functions)
            hit = anywhere or [
                f for f in findings if f.function in names or names.intersection(f.binds)
            ]
            if hit:
                _void_by_finding(result, hit[0])
                continue
            reasons = [
                (fn, why) for fn in result.functions for why in self.client.violations.get(fn, [])
            ]
            if reasons:
                fn, why = reasons[0]
                result.status, result.score, result.voided_by = "failed", 0.0, "runtime guard"
                result.message = (
                    f"{fn} {why}: that is not allowed in this exercise, so no test of {fn} counts"
                )
                result.hint = "write it yourself; the exercise text lists what is not allowed"


def _void_by_finding(result: TestResult, finding: IntegrityFinding) -> None:
    owner = finding.function or next((n for n in finding.binds if n in result.functions), None)
    where = finding.function or "your file's top level"
    scope = f"no test of {owner} counts" if owner else "no test counts"
    result.status, result.score, result.voided_by = "failed", 0.0, "audit"
    result.message = (
        f"{where} uses `{finding.code}` (line {finding.line}), which is not allowed here: "
        f"{finding.why}; so {scope}"
    )
    result.hint = finding.instead or "write it yourself; the exercise text lists what you may use"


def visibility_of(item: pytest.Item) -> str:
    return "hidden" if item.path.parent.name == "hidden" else "public"


def test_title(item: pytest.Item) -> str:
    fn = getattr(item, "function", None)
    doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    title = (
        doc[0].rstrip(".") if doc else re.sub(r"^test_", "", item.originalname).replace("_", " ")
    )
    callspec = getattr(item, "callspec", None)
    return f"{title} [{callspec.id}]" if callspec is not None else title
