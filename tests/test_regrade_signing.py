"""Signed scorecards: `grade keys new`, signing, and `grade check-signature`."""

import json
import stat

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.judge.failures import GraderError
from grader.regrade import signing

CARD = {
    "schema_version": 1,
    "kind": "bundle",
    "score": 25.0,
    "max_score": 53.0,
    "seed": 5,
    "exercises": [
        {
            "exercise": "exercise-3",
            "score": 25.0,
            "max_score": 53.0,
            "environment": {"grader": "0.1.0"},
            "tests": [{"id": "public/t", "status": "passed", "message": ""}],
        }
    ],
}


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def keys(tmp_path):
    result = run("keys", "new", "--out", str(tmp_path / "k" / "course.key"))
    assert result.exit_code == 0, result.output
    return tmp_path / "k" / "course.key", tmp_path / "k" / "course.key.pub"


@pytest.fixture
def signed(tmp_path, keys):
    card = tmp_path / "alice.json"
    card.write_text(json.dumps(CARD, indent=2))
    signing.sign_file(
        card, signing.load_private(keys[0]), student="alice", commit="abc", fingerprint="f"
    )
    return card


def test_keys_new_writes_a_private_key_only_its_owner_reads_and_never_overwrites(keys):
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PUBLIC KEY" in public.read_bytes()
    again = run("keys", "new", "--out", str(private))
    assert again.exit_code == 2 and "already exists" in again.output


def test_a_signed_scorecard_verifies(signed, keys):
    result = run("check-signature", str(signed), "--public-key", str(keys[1]))
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "alice" in result.output and "25/53" in result.output


def test_the_statement_names_student_commit_exercise_grader_seed_time_and_scores(signed):
    statement = json.loads(signed.with_name("alice.json.sig").read_text())["statement"]
    assert statement["student"] == "alice" and statement["commit"] == "abc"
    assert statement["grader_version"] == "0.1.0" and statement["seed"] == 5
    assert statement["exercises"] == [{"exercise": "exercise-3", "score": 25.0, "max_score": 53.0}]
    assert statement["signed_at"]


@pytest.mark.parametrize("which", ["card", "signature"])
def test_changing_one_byte_of_either_file_fails_the_check(signed, keys, which):
    target = signed if which == "card" else signed.with_name("alice.json.sig")
    text = target.read_text()
    edited = text.replace("25.0", "35.0", 1) if which == "card" else text.replace("abc", "abd")
    assert len(edited) == len(text) and edited != text
    target.write_text(edited)
    result = run("check-signature", str(signed), "--public-key", str(keys[1]))
    assert result.exit_code == 1 and "INVALID" in result.output


def test_a_message_edit_is_caught_too_but_reformatting_is_not_an_edit(signed, keys):
    public = signing.load_public(keys[1])
    signed.write_text(json.dumps(json.loads(signed.read_text())))  # same content, new layout
    signing.verify_file(signed, public)
    signed.write_text(signed.read_text().replace('"passed"', '"failed"'))
    with pytest.raises(GraderError, match="changed after it was signed"):
        signing.verify_file(signed, public)


def test_another_key_does_not_verify(signed, tmp_path):
    run("keys", "new", "--out", str(tmp_path / "other.key"))
    result = run("check-signature", str(signed), "--public-key", str(tmp_path / "other.key.pub"))
    assert result.exit_code == 1 and "INVALID" in result.output


def test_a_missing_signature_is_a_usage_error(tmp_path, keys):
    card = tmp_path / "bob.json"
    card.write_text("{}")
    result = run("check-signature", str(card), "--public-key", str(keys[1]))
    assert result.exit_code == 2 and "cannot read the signature" in result.output
