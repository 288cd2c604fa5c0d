"""Platform renderers end to end: the Classroom protocol, the log, the job summary, JUnit.

Real submissions are graded (a few tests each, via ``select``) and rendered; the assertions read
the outputs the way the other side does: the reporter's arithmetic, an Actions runner's command
parser, an XML parser.
"""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from grader.cli import main
from grader.judge import exercises, plugin, runner, scorecard
from grader.platforms import classroom, formats
from grader.platforms.common import expected_points, neutralise
from grader.platforms.gradescope import results_json
from grader.platforms.junit import junit_xml
from tests.conftest import ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow  # every test here grades end to end

PLATFORMS = SUBMISSIONS / "platforms"
SOLUTION = ROOT / "solutions" / "ex03_gradient_clipping.py"
# 2-point and 1-point tests, public and hidden: unequal weights on purpose.
SELECT = "worked_example or empty_list or norm_type_given_as_keyword or clip_grad_value_clamps"
FIELDS = {
    "name": str,
    "status": str,
    "score": (int, float),
    "message": str,
    "test_code": str,
    "filename": str,
    "line_no": int,
    "duration": int,
}


def cli(args: list[str], workdir: Path, env: dict[str, str] | None = None):
    """Run ``grade ARGS`` in-process on CPU; return the result and the scorecard it wrote."""
    card_path = workdir / "scorecard.json"
    result = CliRunner().invoke(
        main,
        [*args, "--device", "cpu", "--seed", "7", "--json", str(card_path)],
        env=env,
        catch_exceptions=False,
    )
    return result, scorecard.load(card_path)


def classroom_run(workdir: Path, args: list[str]):
    """``grade ... --format classroom`` as in a workflow step: result, card, payload, summary."""
    workdir.mkdir(parents=True, exist_ok=True)
    out, summary = workdir / "gh_output", workdir / "gh_summary.md"
    out.write_text("other=1\n")
    env = {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}
    result, card = cli([*args, "--format", "classroom"], workdir, env)
    return result, card, decode(out), summary.read_text()


# Each submission is graded once, through the CLI, in the format its tests look at.
@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The solution, rendered for Gradescope by ``--format gradescope``."""
    work = tmp_path_factory.mktemp("full")
    result, card = cli(
        ["exercise-3", "-s", str(SOLUTION), "-k", SELECT, "--format", "gradescope"]
        + ["-o", str(work / "results.json")],
        work,
    )
    assert result.exit_code == 0, result.output
    return card, json.loads((work / "results.json").read_text())


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    run = classroom_run(
        tmp_path_factory.mktemp("partial"),
        ["exercise-3", "-s", str(PLATFORMS / "ex03_partial.py"), "-k", SELECT],
    )
    assert run[0].exit_code == 0, run[0].output
    return run


@pytest.fixture(scope="module")
def inject(tmp_path_factory):
    run = classroom_run(
        tmp_path_factory.mktemp("inject"),
        ["exercise-3", "-s", str(PLATFORMS / "ex03_inject.py"), "-k", "empty_list or clamps"],
    )
    assert run[0].exit_code == 0, run[0].output
    return run


# -- helpers that play the other side ----------------------------------------------------------
def decode(output_file: Path) -> dict:
    """The payload the reporter reads from ``<ID>_RESULTS``: the last ``result=`` line."""
    lines = [ln for ln in output_file.read_text().splitlines() if ln.startswith("result=")]
    assert lines, "no result= line in GITHUB_OUTPUT"
    return json.loads(base64.b64decode(lines[-1].split("=", 1)[1], validate=True))


def reporter_notify(payload: dict) -> tuple[float, float] | None:
    """autograding-grading-reporter's NotifyClassroom: points = sum of scores, or nothing."""
    if not payload.get("max_score"):
        return None
    return sum(t["score"] for t in payload["tests"]), payload["max_score"]


def reporter_table(payload: dict) -> float:
    """The reporter v1 log table: (passing tests / all tests) x max_score."""
    passing = sum(t["status"] == "pass" for t in payload["tests"])
    return passing / len(payload["tests"]) * payload["max_score"]


def reporter_console(payload: dict) -> str:
    """What the reporter's ConsoleResults prints from the payload (unescaped)."""
    out = []
    for t in payload["tests"]:
        if t["status"] == "pass":
            out.append(f"✅ {t['name']}")
        elif t["status"] == "error":
            out.append(f"Error: {t['message'] or 'Failed to run test ' + repr(t['name'])}")
        else:
            out.append(f"❌ {t['name']}")
        if t["test_code"]:
            out.append(f"Test code:\n{t['test_code']}\n")
    return "\n".join(out)


def runner_commands(log: str) -> list[str]:
    """The lines a GitHub Actions runner would act on as workflow commands.

    At least as eager as the runner: lines split on every break Python knows, leading
    whitespace trimmed (``::cmd::``), ``##[cmd]`` found anywhere, ``::stop-commands::`` honoured.
    """
    acted, stop = [], None
    for raw in log.splitlines():
        line = raw.lstrip()
        end = line.find("::", 2) if line.startswith("::") else -1
        if stop is not None:
            if end >= 0 and line[2:end] == stop:
                acted.append("<resume>")
                stop = None
            continue
        if end >= 0:
            acted.append(line)
            if line[2:end] == "stop-commands":
                stop = line[end + 2 :]
        elif re.search(r"##\[[^\]]*\]", raw):
            acted.append(raw)
    return acted


def valid_payload(payload: dict) -> None:
    assert payload["version"] == 1
    assert payload["status"] in ("pass", "fail", "error")
    assert payload["max_score"] > 0
    assert payload["tests"]
    for t in payload["tests"]:
        assert set(t) == set(FIELDS)
        for key, kind in FIELDS.items():
            assert isinstance(t[key], kind), (key, t)
        assert t["status"] in ("pass", "fail", "error")
        assert 0 <= t["score"]
    assert reporter_notify(payload) is not None


# -- the reporter payload ----------------------------------------------------------------------
@pytest.mark.parametrize("which", ["full", "partial"])
def test_reporter_adds_up_to_the_scorecard(which, request):
    card = request.getfixturevalue(which)[1 if which == "partial" else 0]
    payload, encoded = classroom.result_output(card)
    valid_payload(payload)
    decoded = json.loads(base64.b64decode(encoded))
    assert decoded == payload
    points, maximum = reporter_notify(decoded)
    assert points == pytest.approx(card.score) and maximum == pytest.approx(card.max_score)
    # the reporter's log table agrees too: equal, all-or-nothing entries
    assert reporter_table(decoded) == pytest.approx(points)
    assert len({t["score"] for t in decoded["tests"] if t["status"] == "pass"}) <= 1
    if which == "full":
        assert decoded["status"] == "pass" and points == maximum
    else:
        assert decoded["status"] == "fail" and 0 < points < maximum


def test_unequal_weights_are_split_into_equal_units(partial):
    card = partial[1]
    assert {t.max_score for t in card.tests if t.status != "skipped"} == {1.0, 2.0}
    payload = classroom.reporter_payload(card)
    two_point = [t for t in payload["tests"] if t["name"].endswith(("(1/2)", "(2/2)"))]
    assert len(two_point) == 2 * sum(t.max_score == 2 for t in card.tests)
    assert len(payload["tests"]) == card.max_score
    # without splitting, the reporter's table would disagree with its annotation (issue #10)
    unsplit = classroom.reporter_payload(card, split=False)
    assert reporter_notify(unsplit) == reporter_notify(payload)
    assert reporter_table(unsplit) != pytest.approx(reporter_notify(unsplit)[0])


def test_annotations_are_the_reporters(partial):
    payload = classroom.reporter_payload(partial[1])
    got, of = reporter_notify(payload)
    assert classroom.annotations(payload) == [
        f"::notice title=Autograding complete::Points {got:g}/{of:g}",
        "::notice title=Autograding report::"
        + json.dumps({"totalPoints": int(got), "maxPoints": int(of)}, separators=(",", ":")),
    ]


def test_crashing_submission_still_gives_a_valid_result(tmp_path):
    result, card = cli(
        ["exercise-3", "-s", str(PLATFORMS / "ex03_crash.py"), "-k", "worked_example"]
        + ["--format", "json"],
        tmp_path,
    )
    assert result.exit_code == 1
    assert scorecard.Scorecard.model_validate_json(result.output) == card  # --format json
    assert card.score == 0 and all("exited" in t.message for t in card.tests)
    payload, _ = classroom.result_output(card)
    valid_payload(payload)
    assert reporter_notify(payload) == (0, card.max_score) and payload["status"] == "fail"


def test_timing_out_submission_still_gives_a_valid_result(tmp_path, monkeypatch):
    monkeypatch.setattr(plugin, "DEFAULT_TIMEOUT_S", 1.0)
    xml = tmp_path / "junit.xml"
    result, card = cli(
        ["exercise-3", "-s", str(PLATFORMS / "ex03_hang.py"), "-k", "worked_example"]
        + ["--format", "junit", "-o", str(xml)],
        tmp_path,
    )
    assert result.exit_code == 1
    assert card.score == 0 and card.max_score == 4
    assert all("did not return within 1 s" in t.message for t in card.tests)
    payload, _ = classroom.result_output(card)
    valid_payload(payload)
    assert reporter_notify(payload) == (0, 4)
    suite = ET.parse(xml).getroot().find("testsuite")
    assert [f.get("message") for f in suite.iter("failure")] == [
        "clip_grad_norm did not return within 1 s"
    ] * 2


def test_grading_that_cannot_run_still_gives_a_valid_result(tmp_path, monkeypatch):
    ex = exercises.find("exercise-3")
    opts = runner.Options(device="cpu", seed=1)
    missing, errors = formats.grade_exercise(ex, tmp_path / "nowhere", opts)
    bundle, errors2 = formats.grade_every([ex], tmp_path / "nowhere", opts)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(runner, "prepare", broken)
    crashed, errors3 = formats.grade_exercise(ex, SOLUTION, opts)
    assert "internal grader error: RuntimeError: a bug in the grader" in errors3[0]
    for card, errs in ((missing, errors), (bundle, errors2), (crashed, errors3)):
        assert errs and card.score == 0
        payload, _ = classroom.result_output(card)
        valid_payload(payload)
        assert payload["status"] == "error"
        # the real worth of the exercise, not 0/0 (the reporter skips a runner whose max is 0)
        worth = expected_points("exercise-3")
        assert reporter_notify(payload)[1] == worth > 1
        assert payload["tests"][0]["message"]
        gradescope = results_json(card)
        assert gradescope["score"] == 0 and gradescope["tests"][0]["max_score"] == worth


# -- the log, the job summary, the exit code ---------------------------------------------------
def test_student_text_never_reaches_the_log_as_a_command(inject):
    result, card, payload, summary = inject
    # the forged text is there, quoted...
    assert "999" in result.output and "add-mask" in result.output
    # ...but the runner acts only on our own commands
    acted = runner_commands(result.output)
    assert acted[0].startswith("::stop-commands::") and len(acted[0]) > 40
    assert acted[1:] == [
        "<resume>",
        "::notice title=Autograding complete::Points 0/2",
        '::notice title=Autograding report::{"totalPoints":0,"maxPoints":2}',
    ]
    # and the reporter, which prints names and error messages unescaped, acts on nothing
    assert "999" in json.dumps(payload)
    assert runner_commands(reporter_console(payload)) == []
    assert runner_commands("\n".join(t["message"] for t in payload["tests"])) == []
    # the job summary quotes it as text, not HTML
    assert "<script>" not in summary and "&lt;script&gt;" in summary
    assert "</pre><" not in summary


def test_neutralise_keeps_the_text_readable():
    text = "ok\n  ::notice title=x::y\r::error::z\u2028a ##[warning]b"
    safe = neutralise(text)
    assert runner_commands(text) != [] and runner_commands(safe) == []
    assert safe.splitlines() == ["ok", "  : :notice title=x::y", ": :error::z", "a ## [warning]b"]


def test_classroom_step_output_summary_and_exit_code(partial):
    result, card, payload, summary = partial
    assert result.exit_code == 0  # the reporter fails the job, not this step
    valid_payload(payload)
    assert reporter_notify(payload) == (card.score, card.max_score)
    assert summary.startswith(f"## Autograding: {card.score:g}/{card.max_score:g} points")
    assert "| ✅ |" in summary and "| ❌ |" in summary
    assert "Why tests failed" in summary and "NotImplementedError" in summary
    assert "that is the L2 norm" in summary  # the hint


def test_grade_all_classroom_bundle(tmp_path):
    """grade all: one payload for every exercise; a missing submission folder still reports."""
    result, card, payload, summary = classroom_run(tmp_path, ["all", "-s", str(tmp_path / "x")])
    assert result.exit_code == 0
    valid_payload(payload)
    assert payload["status"] == "error"
    ids = [e.id for e in exercises.all_exercises()]
    assert {t["name"].split(":")[0] for t in payload["tests"]} == set(ids)
    assert all(f"{i}:" in summary for i in ids) and "| Exercise |" in summary


# -- JUnit -------------------------------------------------------------------------------------
def test_junit_xml(partial, inject):
    card = partial[1]
    root = ET.fromstring(junit_xml(card).encode())
    suite = root.find("testsuite")
    assert suite.get("name") == "exercise-3"
    cases = suite.findall("testcase")
    assert len(cases) == len(card.tests) == int(root.get("tests"))
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == int(suite.get("failures"))
    assert len(failures) == sum(t.status == "failed" for t in card.tests) > 0
    score = sum(
        float(p.get("value")) for c in cases for p in c.iter("property") if p.get("name") == "score"
    )
    assert score == card.score
    # student text with control characters and markup still makes well-formed XML
    ET.fromstring(junit_xml(inject[1]).encode())


# -- the workflows -----------------------------------------------------------------------------
def load_workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def test_student_workflow():
    wf = load_workflow("classroom.yml")
    assert wf["name"] == "Autograding Tests"
    assert set(wf["on"]) == {"push", "workflow_dispatch", "repository_dispatch"}
    assert all(v in ("read", "none") for v in wf["permissions"].values())
    assert list(wf["jobs"]) == ["run-autograding-tests"]
    job = wf["jobs"]["run-autograding-tests"]
    assert job["runs-on"] == "ubuntu-latest"
    assert job["if"].replace('"', "'") == "github.actor != 'github-classroom[bot]'"
    steps = job["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    runs = [s.get("run", "") for s in steps]
    install = next(r for r in runs if "pip install ." in r)
    cpu = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
    assert cpu in install and install.index(cpu) < install.index("pip install .")
    grading = [s for s in steps if "grade all" in s.get("run", "")]
    assert len(grading) == 1 and grading[0]["run"].strip() == "grade all --format classroom"
    step_id = grading[0]["id"]
    reporter = steps[-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert reporter["with"]["runners"] == step_id
    # the reporter reads <STEP ID upper-cased>_RESULTS
    assert reporter["env"] == {
        f"{step_id.upper()}_RESULTS": f"${{{{ steps.{step_id}.outputs.result }}}}"
    }
    assert steps.index(reporter) > steps.index(grading[0])


def test_project_ci_workflow():
    wf = load_workflow("ci.yml")
    (job,) = wf["jobs"].values()
    assert job["strategy"]["matrix"]["python-version"] == ["3.10", "3.11", "3.12", "3.13"]
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    cpu = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
    assert cpu in runs and runs.index(cpu) < runs.index('pip install -e ".[dev]"')
    for command in ("ruff check", "ruff format --check", "pytest", "grade verify"):
        assert command in runs
    assert all(v in ("read", "none") for v in wf["permissions"].values())
