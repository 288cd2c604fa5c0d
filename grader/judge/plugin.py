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
- ``@pytest.mark.points(n)`` (default 1), ``@pytest.mark.timeout(s)`` (per student call),
  ``@pytest.mark.speed`` (a timing check) and ``@pytest.mark.devices("cuda")`` (which devices).

How a test is scored -- points, visibility, status, voiding -- is decided in
:mod:`grader.judge.lifecycle`; this plugin runs the tests and hands it what happened.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import torch

from grader.judge import lifecycle
from grader.judge.client import WorkerClient
from grader.judge.failures import Failure
from grader.judge.needs import scenario_needs
from grader.judge.scorecard import Integrity, TestResult
from grader.protocol.codec import AsIter, tensors_in
from grader.protocol.messages import Op

if TYPE_CHECKING:
    from pluggy import Result

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
        reply = self._client.request(Op.CALL, name, self._timeout, args=args, kwargs=kwargs)
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
        reply = self._client.request(Op.SCENARIO, name, timeout, needs=needs, kwargs=kwargs)
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
        if torch.cuda.is_available():
            torch.manual_seed(s)
        else:  # the CPU generator torch.manual_seed seeds, without queueing a seed (and a
            # stack trace, ~1 ms per test) for every device that is not initialised
            torch.default_generator.manual_seed(s)
        random.seed(s)
        try:
            import numpy as np

            np.random.seed(s % 2**32)
        except ImportError:  # pragma: no cover
            pass

    def _seed_for(self, item: pytest.Item) -> int:
        base = f"{self.grade_seed}:" if lifecycle.visibility_of(item) == "hidden" else ""
        return zlib.crc32(f"{base}{item.nodeid.split('::', 1)[-1]}".encode())

    # -- hooks -------------------------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        lifecycle.register_markers(config)
        # A scorecard's message comes from the failure itself (lifecycle.result_of), never from
        # pytest's report text. pytest's default "long" report re-parses every source file of
        # the traceback for each failing test: 80% of the judge's time on a stub's grading.
        # (The terminal plugin that owns --tb is off, so the option is set here.)
        config.option.tbstyle = "native"

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "device" in metafunc.fixturenames:
            params = lifecycle.device_params(metafunc.definition, self.devices, self.cuda_available)
            metafunc.parametrize("device", params)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """``grade -k`` also matches the titles the report shows, before pytest deselects."""
        for item in items:
            item.extra_keyword_matches.add(lifecycle.title_of(item))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Result[pytest.TestReport], None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and not report.passed):
            calls = self._calls.get(item.nodeid)
            functions = list(calls.used) if calls is not None else []
            self.results.append(lifecycle.result_of(item, call, report, functions))

    # -- after the run -----------------------------------------------------------------------
    def void(self, integrity: Integrity | None) -> None:
        """See :func:`grader.judge.lifecycle.void`."""
        lifecycle.void(self.results, integrity, self.client.violations)
