"""What student code can see and do inside the worker, for each isolation mode available."""

import os
from pathlib import Path

import pytest

from grader.judge import sandbox
from grader.judge.client import WorkerClient, WorkerSpec
from grader.judge.exercises import REFERENCE_DIR, SUITES_DIR
from tests.conftest import SUBMISSIONS

SECRET = "TLG_TEST_SECRET_TOKEN"
ESCAPES = [
    Path("/tmp/tlg-probe-escape"),
    REFERENCE_DIR.parent / "tlg-probe-escape",
    Path("/var/tmp/tlg-probe-escape"),
]


def available(mode: str) -> bool:
    try:
        return sandbox.available_mode(mode) == mode
    except RuntimeError:
        return False


@pytest.fixture(scope="module", params=[m for m in sandbox.MODES if available(m)])
def probe(request):
    os.environ[SECRET] = "hunter2"
    hidden = SUITES_DIR / "hidden"
    spec = WorkerSpec(
        module="probe",
        submission=SUBMISSIONS / "sandbox" / "probe.py",
        forbidden=[],
        mode=request.param,
        hide=[REFERENCE_DIR, hidden],
    )
    client = WorkerClient(spec)
    try:
        reply = client.request(
            "call",
            "probe",
            20,
            args=[[str(REFERENCE_DIR), str(hidden)], SECRET, [str(p) for p in ESCAPES]],
            kwargs={},
        )
        yield request.param, reply["result"], client.layers
    finally:
        client.close()
        os.environ.pop(SECRET, None)
        for path in ESCAPES:
            path.unlink(missing_ok=True)


def test_python_runs_isolated_with_a_clean_environment(probe):
    _, seen, _ = probe
    assert seen["isolated"] == 1 and seen["no_site"] == 1
    assert not seen["secret_in_env"]
    leaked = ("PYTEST", "PYTHONPATH", "LD_", "TORCH_")
    assert not any(k.startswith(leaked) for k in seen["env_keys"])


def test_resource_limits_are_set(probe):
    _, seen, layers = probe
    assert seen["core_limit"] == 0
    assert 0 < seen["cpu_limit"] <= sandbox.Limits().cpu_s
    assert 0 < seen["fsize_limit"] <= sandbox.Limits().file_bytes
    assert "rlimits" in layers


def test_namespaces_hide_the_network_and_the_judge(probe):
    mode, seen, _ = probe
    if mode == "process":
        pytest.skip("the plain-process fallback has no namespaces")
    assert seen["pid"] <= 3  # a fresh PID namespace
    assert seen["network"] != "connected"
    assert not seen["secret_in_parent_env"]


def test_bwrap_masks_answers_and_makes_the_filesystem_read_only(probe):
    mode, seen, layers = probe
    if mode != "bwrap":
        pytest.skip("only bubblewrap masks paths")
    assert all(listing == [] for listing in seen["listing"].values()), seen["listing"]
    assert str(ESCAPES[2]) not in seen["written"]  # outside /tmp everything is read-only
    assert not any(p.exists() for p in ESCAPES)  # and /tmp is the sandbox's own tmpfs
    assert "hidden tests and answers masked" in layers


def test_the_strongest_available_mode_is_picked():
    best = sandbox.available_mode("auto")
    assert best == next(m for m in sandbox.MODES if available(m))
