"""Verdict parity: the release's public suites, replaying recorded answers, give a file the
same verdicts as the instructor's, which run the references.

The suites' code is the same in both; only where an answer comes from differs. So each file is
graded once, *shadowed* (grader/judge/expectations.py): every answer call runs the reference
and also looks its recording up, and any call the recording lacks or answers differently
(result or in-place effect, bit for bit) is a violation. No violation over a run means a replay
would have fed every check the same values, hence the same statuses, messages and hints. One
buggy file per exercise is also graded replaying, and its verdicts compared directly.

Cost: recording (the ten solutions' public suites) plus one public-only grading per stub and
buggy file (54) and one replayed grading per exercise with buggy files (8), each overlapping
the next one's worker start: 72 gradings, 5.8 min measured on a shared two-core machine (load
3 to 7).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.instructor import release, verify
from grader.judge import exercises, expectations, runner
from grader.judge.scorecard import Scorecard

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
# Exercise 3's attacks on the worker (hangs, exits, forks, forged replies, monkeypatching):
# their verdicts come from the worker's fate, never from an answer, and test_hostile grades
# them. Its builtin_* files call torch's own clipping (voided by the forbidden-call guard
# after the run): their answer calls are a correct submission's, as correct.py's are.
NOT_BUGGY = {
    "endless_loop", "exit_at_import", "exit_in_function", "forged_reply", "fork_bomb",
    "huge_alloc", "huge_stdout", "lying_tensor", "monkeypatch", "syntax_error",
    "sysexit_at_import", "sysexit_in_function", "builtin_alias", "builtin_direct",
    "builtin_exec_in_threading", "builtin_getattr", "builtin_private", "builtin_profiler_off",
    "builtin_thread", "builtin_value",
}  # fmt: skip
OPTS = runner.Options(device="cpu", seed=20261201, visibilities=("public",))


def buggy_files(ex: exercises.Exercise) -> list[Path]:
    folder = SUBMISSIONS / f"ex{ex.number:02d}"
    return sorted(p for p in folder.glob("*.py") if p.stem not in NOT_BUGGY)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, root) -> Path:
    """What `grade release` records, for every exercise."""
    folder = tmp_path_factory.mktemp("expected")
    release.record(root, folder, list(exercises.all_exercises()))
    return folder


def verdicts(card: Scorecard) -> dict[str, tuple[str, str, str]]:
    return {t.id: (t.status, t.message, t.hint) for t in card.tests}


@pytest.mark.slow
def test_replayed_answers_give_every_stub_and_buggy_file_the_instructors_verdicts(recorded, root):
    items = []
    for ex in exercises.all_exercises():
        items.append((ex, root / "exercises" / f"{ex.module}.py"))
        items += [(ex, path) for path in buggy_files(ex)]
    graded = verify.grade_each(items, OPTS)
    violations, cards = [], {}
    for _ex, path in items:
        with expectations.shadowing(recorded) as shadow:
            card = next(graded)
        assert not isinstance(card, str), f"{path}: {card}"
        cards[path] = card
        violations += [f"{path.relative_to(root)}: {v}" for v in shadow.violations]
    assert violations == []
    assert len(items) > 50 and any(c.score > 0 for c in cards.values())

    direct = [(ex, buggy_files(ex)[0]) for ex in exercises.all_exercises() if buggy_files(ex)]
    with expectations.replaying(recorded):
        replayed = list(verify.grade_each(direct, OPTS))
    for (_ex, path), card in zip(direct, replayed):
        assert not isinstance(card, str), f"{path}: {card}"
        assert verdicts(card) == verdicts(cards[path]), path
