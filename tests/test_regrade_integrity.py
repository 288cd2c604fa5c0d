"""Tamper flags against the release manifest, and scorecard findings read whatever their shape."""

import hashlib
import json

import pytest

from grader.judge.failures import GraderError
from grader.regrade import integrity
from tests.regrade_fixtures import RELEASE_FILES, WORKFLOW, manifest, write


def flags_for(tmp_path, files: dict[str, str]) -> list[str]:
    found = integrity.load_manifest(manifest(tmp_path / "manifest.json"))
    data = {rel: text.encode() for rel, text in files.items()}
    return integrity.tamper_flags(
        found, {rel: len(b) for rel, b in data.items()}, lambda paths: {p: data[p] for p in paths}
    )


def test_an_untouched_release_has_no_flags(tmp_path):
    files = {**RELEASE_FILES, "exercises/ex03_gradient_clipping.py": "my answer", "notes.md": "x"}
    assert flags_for(tmp_path, files) == []


def test_a_changed_workflow_a_missing_file_and_an_added_conftest_are_flagged(tmp_path):
    files = {WORKFLOW: "run: true\n", "conftest.py": "", ".github/workflows/other.yml": ""}
    assert flags_for(tmp_path, files) == [
        "missing protected file pyproject.toml",
        f"changed protected file {WORKFLOW}",
        "added .github/workflows/other.yml",
        "added conftest.py",
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "invalid JSON"),
        ('{"format": 2, "files": {}}', "format 1"),
        ('{"format": 1, "files": {"a": {"protected": true}}}', "has no sha256"),
    ],
)
def test_a_bad_manifest_is_one_clear_message(tmp_path, text, message):
    with pytest.raises(GraderError, match=message):
        integrity.load_manifest(write(tmp_path / "m.json", text))


def test_unprotected_entries_are_not_checked(tmp_path):
    entry = {"sha256": hashlib.sha256(b"").hexdigest(), "protected": False}
    path = write(tmp_path / "m.json", json.dumps({"format": 1, "files": {"a.py": entry}}))
    assert integrity.load_manifest(path).protected == {}


@pytest.mark.parametrize(
    "section, expected",
    [
        (None, []),
        ([], []),
        (["reads /proc"], ["reads /proc"]),
        ({"findings": [{"rule": "frames", "message": "walks frames"}]}, ["walks frames"]),
        ({"ok": False, "items": [{"kind": "threads"}]}, ["threads"]),
        ({"audit": [{"summary": "imports grader"}]}, ["imports grader"]),
    ],
)
def test_scorecard_findings_are_read_whatever_shape_they_take(section, expected):
    card = {"exercise": "exercise-3", "tests": []}
    if section is not None:
        card["integrity"] = section
    assert integrity.card_findings(card) == expected


def test_a_forbidden_call_in_a_card_is_a_finding():
    message = "clip_grad_norm called clip_grad_norm_: that is not allowed in this exercise, so"
    card = {"tests": [{"message": message}]}
    assert integrity.card_findings(card) == [
        "forbidden call: clip_grad_norm called clip_grad_norm_"
    ]
