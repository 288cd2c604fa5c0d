"""Recorded answers (grader/judge/expectations.py): what a recording holds, what a replay
gives back, and when a replay refuses instead of guessing. No worker is started here: answer
calls are made directly, inside a stand-in for the running test."""

from __future__ import annotations

import contextlib
import math
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from grader.judge import expectations as ex
from grader.judge.failures import Failure

TEST = "public/test_ex03_gradient_clipping.py::test_demo[cpu-L2]"
clip = ex.answers("ex03_gradient_clipping").clip_grad_norm


@contextlib.contextmanager
def in_test(nodeid: str = TEST, device: str | None = "cpu") -> Iterator[None]:
    """Answer calls inside belong to the test ``nodeid`` (parametrized by ``device``)."""
    callspec = types.SimpleNamespace(params={"device": device}) if device else None
    token = ex._CURRENT.set(types.SimpleNamespace(nodeid=nodeid, callspec=callspec))
    try:
        yield
    finally:
        ex._CURRENT.reset(token)


def params(seed: int = 0, scale: float = 3.0) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for shape in [(4, 3), (5,)]:
        p = torch.nn.Parameter(torch.randn(shape, generator=gen, dtype=torch.float64))
        p.grad = torch.randn(shape, generator=gen, dtype=torch.float64) * scale
        out.append(p)
    return out


def save(state, folder: Path) -> Path:
    for module, store in state.recorded.items():
        (folder / f"{module}{ex.SUFFIX}").write_bytes(store.to_bytes())
    return folder


@pytest.fixture
def recorded(tmp_path) -> tuple[Path, torch.Tensor, list[torch.Tensor]]:
    """A recorded clip_grad_norm (in place on the grads) of a list and of a generator of
    parameters, saved to a folder."""
    ps = params()
    with ex.recording() as state, in_test():
        norm = clip(ps, 1.0)
        clip((p for p in params()), 1.0)
    return save(state, tmp_path), norm, [p.grad.clone() for p in ps]


def test_a_replay_returns_the_result_and_does_what_the_call_did_in_place(recorded):
    folder, norm, clipped = recorded
    ps = params()
    with ex.replaying(folder), in_test():
        got = clip(ps, 1.0)
    assert torch.equal(got, norm)
    for p, g in zip(ps, clipped):
        assert torch.equal(p.grad, g)
    with ex.replaying(folder), in_test():  # a generator of parameters, as model.parameters()
        again = params()
        assert torch.equal(clip((p for p in again), 1.0), norm)
    assert all(torch.equal(p.grad, g) for p, g in zip(again, clipped))


def test_the_replay_matches_inputs_to_within_rounding(recorded):
    folder, norm, _ = recorded
    ps = params()
    with torch.no_grad():
        ps[0].grad.mul_(1 + 1e-13)  # another machine's last bits
    with ex.replaying(folder), in_test():
        assert torch.equal(clip(ps, 1.0), norm)


@pytest.mark.parametrize(
    "change, why",
    [
        (lambda ps: (ps, 2.0), "the arguments[0][1]: recorded 1.0, got 2.0"),
        (lambda ps: (params(scale=4.0), 1.0), "the arguments[0][0][0].grad: values differ"),
        (lambda ps: (ps[:1], 1.0), "the arguments[0][0]: recorded 2 items, got 1"),
    ],
    ids=["max_norm", "grads", "fewer-params"],
)
def test_inputs_that_were_not_recorded_fail_the_test_with_a_grader_message(recorded, change, why):
    folder, _, _ = recorded
    args = change(params())
    with ex.replaying(folder), in_test(), pytest.raises(Failure) as failed:
        clip(*args)
    assert f"no recorded answer of clip_grad_norm for these inputs ({why})" in str(failed.value)
    assert "not of your code" in str(failed.value)
    with ex.replaying(folder), in_test("public/test_x.py::other"), pytest.raises(Failure):
        clip(*change(params()))


def test_a_cuda_test_replays_its_cpu_twin():
    with in_test("public/test_ex06_training_loop.py::test_one[cuda-N1]", device="cuda"):
        key = ex.current_key()
    assert key == ex.TestKey("public/test_ex06_training_loop.py::test_one[cpu-N1]", "cuda")
    assert key.module == "ex06_training_loop"
    assert ex.canonical({"device": "cuda", "note": "cuda!"}, "cuda") == {
        "device": "cpu",
        "note": "cuda!",
    }


def test_recordings_are_data_that_keep_types(tmp_path):
    p = torch.nn.Parameter(torch.tensor([1.0, float("nan")], dtype=torch.float64))
    result = {
        "t": (1, 2.5, math.inf, None, "s", [True]),
        "p": p,
        "grad": torch.ones(2, requires_grad=True),
        7: {"x": torch.arange(3)},
    }
    store = ex.Store("ex99_demo")
    store.add(TEST, ex.Entry("m.f", ex.canonical(((lambda: 0,), {})), result, [None]))
    back = ex.Store.from_bytes(store.to_bytes()).tests[TEST][0]
    assert ex.exact_difference(back.result, result, "result") is None
    assert back.inputs[0][0][0] == "$fn" and back.inputs[0][0][1].endswith("<lambda>")
    with pytest.raises(Exception, match="cannot be sent"):
        ex.Store("x", {TEST: [ex.Entry("m.f", (), object(), [])]}).to_bytes()


def test_functions_are_keyed_by_name_and_by_what_they_close_over():
    def loss(scale: float):
        return lambda w: (w * scale).sum()

    same = ex.difference(ex.canonical(loss(2.0)), ex.canonical(loss(2.0)))
    other = ex.difference(ex.canonical(loss(2.0)), ex.canonical(loss(3.0)))
    assert same is None and other is not None
    assert ex.canonical(clip) == ("$answer", "ex03_gradient_clipping.clip_grad_norm")
    assert ex.canonical(ex.answers("ex06_training_loop")) == (
        "$module",
        "reference.ex06_training_loop",
    )


@pytest.fixture
def probe(monkeypatch) -> list[tuple]:
    """reference.support._probe.f: an answer function that logs its calls."""
    calls: list[tuple] = []
    module = types.ModuleType("reference.support._probe")

    def f(x: float, *, k: int = 1) -> float:
        calls.append((x, k))
        return x * k

    module.f = f  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "reference.support._probe", module)
    return calls


def test_ahead_records_a_hint_answer_only_while_recording(probe, tmp_path):
    f = ex.answers("support._probe").f
    with in_test():
        ex.ahead(f, 2.0, k=3)  # live: nothing to prepare
    assert probe == []
    with ex.recording() as state, in_test():
        ex.ahead(f, 2.0, k=3)
        assert f(2.0, k=3) == 6.0  # the same call later is recorded once
    assert state.recorded["ex03_gradient_clipping"].entries() == 1
    folder = save(state, tmp_path)
    probe.clear()
    with ex.replaying(folder), in_test():
        ex.ahead(f, 5.0)
        assert f(2.0, k=3) == 6.0
    assert probe == []  # replayed, never run


def test_shadowing_reports_a_recording_that_differs_from_the_reference(probe, tmp_path):
    f = ex.answers("support._probe").f
    with ex.recording() as state, in_test():
        f(2.0, k=3)
    state.recorded["ex03_gradient_clipping"].tests[TEST][0].result = 7.0
    folder = save(state, tmp_path)
    with ex.shadowing(folder) as shadow, in_test():
        assert f(2.0, k=3) == 6.0  # the reference's answer, whatever the recording says
        f(4.0)
    assert shadow.violations == [
        f"{TEST}: support._probe.f: replay differs from the reference: result: 7.0 vs 6.0",
        f"{TEST}: support._probe.f: the grader has no recorded answer of f for these inputs "
        "(the arguments[0][0]: recorded 2.0, got 4.0): the public tests compare with answers "
        "recorded when the course was released, and this call was not among them. This is a "
        "problem of the grader, not of your code: tell your instructor",
    ]


def test_outside_a_test_answers_are_live_and_a_replay_refuses(probe, tmp_path):
    f = ex.answers("support._probe").f
    with ex.recording() as state:
        assert f(1.0) == 1.0
    assert state.recorded == {}
    with ex.replaying(tmp_path), pytest.raises(Failure, match="outside a test"):
        f(1.0)
