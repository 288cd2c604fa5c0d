"""What student code can see and do inside the worker, in every isolation mode this machine has.

One probe submission (tests/submissions/sandbox/probe.py) tries to read the answers, write
into the grader and the scorecard path, start processes, open sockets, signal the judge and
leave its cgroup, and reports what worked. Nothing may work, in any mode. The same probe run
with Landlock and seccomp switched off (simulated machines without them) shows which layer
stops what, and that such machines still grade and say they are weaker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.judge import sandbox
from grader.judge.client import WorkerClient, WorkerSpec, start_zygote
from grader.judge.exercises import REFERENCE_DIR, SUITES_DIR
from tests.conftest import ROOT, SUBMISSIONS

SECRET = "TLG_TEST_SECRET_TOKEN"
PROBE = (SUBMISSIONS / "sandbox" / "probe.py").read_bytes()
READS = [
    ROOT / "solutions",
    ROOT / "solutions" / "ex03_gradient_clipping.py",
    ROOT / ".git",
    ROOT / ".git" / "HEAD",
    ROOT / "tests" / "submissions" / "ex03" / "correct.py",
    SUITES_DIR / "hidden",
    SUITES_DIR / "hidden" / "test_ex03_gradient_clipping.py",
    REFERENCE_DIR / "ex03_gradient_clipping.py",
    ROOT / "grader" / "judge" / "runner.py",
    Path("/etc/passwd"),
    Path("/tmp"),
]
PROCESS_ACTS = ("fork", "forkpty", "posix_spawn", "subprocess", "system", "exec")
KERNEL_ACTS = ("raw_fork", "raw_exec", "raw_socket", "raw_kill_parent", "raw_kill_ppid")


def available(mode: str) -> bool:
    try:
        return sandbox.available_mode(mode) == mode
    except RuntimeError:
        return False


MODES = [m for m in sandbox.MODES if available(m)]


def run_probe(
    mode: str, tmp: Path, *, contained: bool = True, forked: bool = False, **simulate: str
) -> tuple[dict, WorkerClient]:
    """Start a worker in ``mode`` (``forked``: from a worker template, next to a sibling
    worker whose folders must stay out of reach) with the probe as the submission and run it
    once; unless ``contained`` is False (a simulated weak machine), assert it planted nothing."""
    targets = [
        ROOT / "grader" / "suites" / "public" / "tlg-planted.py",
        ROOT / "tlg-planted.txt",
        tmp / "scorecard.json",
        Path("/tmp/tlg-planted"),
        Path("/var/tmp/tlg-planted"),
    ]
    old = {k: os.environ.get(k) for k in simulate}
    os.environ.update(simulate)
    os.environ[SECRET] = "hunter2"
    sandbox.capabilities.cache_clear()
    zygote = start_zygote([], mode=mode, cuda=False) if forked else None
    sibling = None
    reads = [str(p) for p in READS]
    if zygote is not None:
        spec = WorkerSpec(module="sibling", submission=None, source=b"x = 1\n", zygote=zygote)
        sibling = WorkerClient(spec)
        sibling.ensure_loaded()
        assert sibling.worker is not None
        reads += [str(folder) for folder in sibling.worker.folders]
        reads.append(str(zygote.home))  # the template's own files are the worker's code
    spec = WorkerSpec(module="probe", submission=None, source=PROBE, mode=mode, zygote=zygote)
    client = WorkerClient(spec)
    try:
        args = [reads, [str(p) for p in targets], os.getpid(), SECRET]
        result = client.request("call", "probe", 60, args=args, kwargs={})["result"]
        if zygote is not None:
            assert "forked from a pre-imported template" in client.layers
    finally:
        client.close()
        if sibling is not None:
            sibling.close()
        if zygote is not None:
            zygote.close()
        os.environ.pop(SECRET, None)
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        sandbox.capabilities.cache_clear()
    planted = [str(p) for p in targets if p.exists()]
    for p in targets:
        if p.exists() and p.parent != tmp:
            p.unlink()
    if contained:
        assert not planted, f"the worker planted files outside its scratch folder: {planted}"
    return result, client


@pytest.fixture(
    scope="module",
    params=[(m, forked) for m in MODES for forked in (False, True)],
    ids=lambda p: f"{p[0]}-{'forked' if p[1] else 'started'}",
)
def probed(request, tmp_path_factory):
    mode, forked = request.param
    result, client = run_probe(mode, tmp_path_factory.mktemp(mode), forked=forked)
    return mode, result, client


def denied(found: dict, section: str) -> dict[str, str]:
    return {k: v for k, v in found[section].items() if not v.startswith("denied")}


@pytest.mark.slow
def test_the_answers_and_the_judge_cannot_be_read(probed):
    mode, found, _ = probed
    assert denied(found, "read") == {}, mode
    for act in ("parent_environ", "parent_cmdline"):
        assert found["act"][act].startswith("denied"), (mode, act, found["act"][act])


@pytest.mark.slow
def test_nothing_outside_scratch_can_be_written(probed):
    mode, found, _ = probed
    assert denied(found, "write") == {}, mode
    assert found["facts"]["cwd_writable"].startswith("allowed")


def test_processes_sockets_and_signals_are_refused_with_a_clear_message(probed):
    mode, found, _ = probed
    acts = found["act"]
    for act in PROCESS_ACTS:
        assert "started a new process: not allowed in graded code" in acts[act], (mode, act)
    for act in ("socket", "unix_socket"):
        assert "opened a network socket: not allowed" in acts[act], (mode, act)
    for act in ("kill_parent", "kill_parent_0", "kill_ppid"):
        assert "sent a signal to another process: not allowed" in acts[act], (mode, act)


def test_the_kernel_refuses_the_raw_routes_past_the_friendly_layer(probed):
    mode, found, _ = probed
    for act in KERNEL_ACTS:
        assert found["act"][act].startswith("denied: PermissionError"), (mode, act)


def test_the_worker_cannot_leave_its_cgroup(probed):
    mode, found, _ = probed
    assert not found["act"]["leave_cgroup"].startswith("allowed: 'moved"), mode


def test_python_runs_isolated_with_a_clean_environment_and_limits(probed):
    _, found, client = probed
    facts = found["facts"]
    assert facts["isolated"] == 1 and facts["no_site"] == 1
    assert not facts["secret_in_env"]
    leaked = ("PYTEST", "PYTHONPATH", "LD_", "TORCH_", "GITHUB", SECRET)
    assert not any(k.startswith(leaked) for k in facts["env_keys"])
    assert facts["core_limit"] == 0
    assert 0 < facts["cpu_limit"] <= sandbox.Limits().cpu_s
    assert 0 < facts["fsize_limit"] <= sandbox.Limits().file_bytes
    assert "rlimits" in client.layers


def test_layers_are_recorded_and_the_level_is_a_grade_of_record(probed):
    mode, found, client = probed
    caps = sandbox.capabilities()
    if caps.landlock_abi:
        assert client.landlock_abi == caps.landlock_abi
        assert any(layer.startswith("Landlock ABI") for layer in client.layers)
    if caps.seccomp:
        assert client.seccomp and any(layer.startswith("seccomp") for layer in client.layers)
    if caps.landlock_abi and caps.seccomp:
        assert client.level in ("landlock", "bwrap")
    if mode != "process":  # a fresh PID namespace counts from 1 (the template, then workers)
        assert found["facts"]["pid"] < 50


def test_a_root_judge_never_leaves_the_worker_with_root_powers(probed):
    _, _, client = probed
    if os.geteuid() != 0:
        pytest.skip("the judge is not root here")
    dropped_uid = any(layer.startswith("unprivileged uid") for layer in client.layers)
    assert dropped_uid or "no capabilities" in client.layers


@pytest.mark.skipif("process" not in MODES, reason="no process mode")
@pytest.mark.slow
def test_without_seccomp_landlock_still_guards_files_and_signals(tmp_path):
    found, client = run_probe("process", tmp_path, TLG_SIMULATE_NO_SECCOMP="1")
    if not sandbox.capabilities().landlock_abi:
        pytest.skip("no Landlock on this kernel")
    assert not client.seccomp and client.level == "process"
    assert denied(found, "read") == {} and denied(found, "write") == {}
    acts = found["act"]
    assert acts["raw_exec"].startswith("denied")  # no execute right on anything
    assert acts["raw_kill_parent"].startswith("denied")  # Landlock ABI 6 signal scoping
    assert acts["raw_fork"].startswith("allowed")  # only seccomp stops a raw fork


@pytest.mark.skipif("process" not in MODES, reason="no process mode")
@pytest.mark.slow
def test_without_landlock_seccomp_still_refuses_processes_and_sockets(tmp_path):
    # Without Landlock a worker that kept uid 0 can write where root can: that machine is
    # 'process' level, and its reports say so (see test_cli's weak-isolation warning).
    found, client = run_probe("process", tmp_path, contained=False, TLG_SIMULATE_NO_LANDLOCK="1")
    if not sandbox.capabilities().seccomp:
        pytest.skip("no seccomp here")
    assert client.landlock_abi == 0 and client.level == "process"
    for act in KERNEL_ACTS:
        assert found["act"][act].startswith("denied"), act


def test_the_strongest_available_mode_is_picked():
    best = sandbox.available_mode("auto")
    assert best == next(m for m in sandbox.MODES if available(m))


def test_the_worker_view_holds_no_judge_code_and_no_answers(tmp_path):
    from grader.judge.sandbox import view

    folder = tmp_path / "view"
    folder.mkdir()
    view.build_view(folder, scenarios="ex03_gradient_clipping", module="m", submission=b"x=1")
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert "submission/m.py" in files
    assert "grader/worker/scenarios/ex03_gradient_clipping.py" in files
    assert not [f for f in files if f.startswith(("grader/judge", "grader/suites", "reference"))]
    assert not [f for f in files if "scenarios/ex0" in f and "ex03" not in f]
    grants = {g.path for g in view.grants(folder, tmp_path / "s", cuda=False)}
    for hidden in (ROOT, ROOT / "grader", REFERENCE_DIR, SUITES_DIR, ROOT / "solutions"):
        assert str(hidden) not in grants
        assert not any(hidden.is_relative_to(g) for g in map(Path, grants) if g != Path("/"))


UID_PROBE = """
import json, sys
sys.path.insert(0, {root!r})
from grader.judge.client import WorkerClient, WorkerSpec, start_zygote
from tests.test_sandbox import PROBE
client = WorkerClient(WorkerSpec(module="probe", submission=None, source=PROBE, mode={mode!r}))
try:
    found = client.request("call", "probe", 60, args=[[], [], 1, "X"], kwargs={{}})["result"]
    with open(f"/proc/{{client.worker.proc.pid}}/status") as status:
        uids = next(line for line in status if line.startswith("Uid:")).split()[1:]
finally:
    client.close()
print(json.dumps({{"uids": uids, "layers": client.layers,
                  "leave_cgroup": found["act"]["leave_cgroup"]}}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root judge drops to another uid")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.slow
def test_a_root_judge_runs_the_worker_as_an_unprivileged_uid(tmp_path, mode):
    """Where Python is readable by other users (Gradescope's /usr/bin/python3, a venv in the
    course folder) the worker gets its own uid. Here Python may sit under a 0700 home: a
    private mount namespace makes that one folder traversable, as a system install would be."""
    from grader.judge.sandbox import view
    from grader.judge.sandbox.modes import unreadable_for_others

    interpreter = Path(os.path.realpath(sys.executable))
    blocker = unreadable_for_others([str(interpreter), *map(str, view.site_entries())])
    script = UID_PROBE.format(root=str(ROOT), mode=mode, tmp=str(tmp_path))
    setup = ""
    if blocker is not None:
        below = Path(blocker) / interpreter.relative_to(blocker).parts[0]
        keep = tmp_path / "keep"
        keep.mkdir()
        setup = (
            f"mount --bind {below} {keep} && mount -t tmpfs -o mode=0755 tmpfs {blocker} && "
            f"mkdir {below} && mount --move {keep} {below} && "
        )
    cmd = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        f'{setup}exec "$0" -c "$1"',
        sys.executable,
        script,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    if done.returncode != 0 and "mount" in done.stderr and not done.stdout:
        pytest.skip(f"cannot make a private mount namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert (
        "0" not in seen["uids"]
    )  # real, effective, saved and file-system uid, as the kernel sees them
    assert any(layer.startswith("unprivileged uid") for layer in seen["layers"])
    assert not seen["leave_cgroup"].startswith("allowed: 'moved")
