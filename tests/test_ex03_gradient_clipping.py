"""exercise-3 end to end: real submission files graded, assertions on the scorecard."""

from pathlib import Path

import pytest

from tests.conftest import ROOT, SUBMISSIONS, by_id, failing, grade

EX03 = SUBMISSIONS / "ex03"
SPEED = "hidden/test_speed_close_to_torch"
OPS = "public/test_uses_whole_tensor_operations"


@pytest.fixture(scope="module")
def solution_card():
    return grade("exercise-3", ROOT / "solutions")


@pytest.mark.slow
def test_solution_gets_full_marks(solution_card):
    assert solution_card.score == solution_card.max_score > 40
    assert not failing(solution_card)
    assert {t.visibility for t in solution_card.tests} == {"public", "hidden"}
    assert solution_card.submission.sha256 and solution_card.seed == 1234


@pytest.mark.slow
def test_cuda_tests_are_skipped_and_not_counted_without_a_gpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    card = grade("exercise-3", ROOT / "solutions", device="auto", select="worked")
    skipped = [t for t in card.tests if t.status == "skipped"]
    assert skipped and all(t.device == "cuda" and t.max_score == 0 for t in skipped)
    assert all("no CUDA device" in t.message for t in skipped)
    assert card.environment.devices_tested == ["cpu"]
    assert card.score == card.max_score == sum(t.max_score for t in card.tests if t.device == "cpu")


def test_scorecard_records_isolation_layers(solution_card):
    layers = solution_card.environment.isolation
    assert "python -I -S" in layers and "rlimits" in layers
    assert solution_card.environment.isolation_mode in ("bwrap", "unshare", "process")


@pytest.mark.slow
def test_stub_gets_zero_with_not_implemented_messages():
    card = grade("exercise-3", ROOT / "exercises")
    assert card.score == 0 and card.max_score > 40
    for t in failing(card):
        assert "not implemented yet" in t.message, t
        assert "Traceback" not in t.message


@pytest.mark.slow
def test_reference_passes_every_correctness_test():
    card = grade(
        "exercise-3", ROOT / "reference" / "ex03_gradient_clipping.py", check_forbidden=False
    )
    assert not failing(card), [(t.id, t.message) for t in failing(card)]


def test_reference_is_voided_when_forbidden_calls_are_checked():
    card = grade("exercise-3", ROOT / "reference" / "ex03_gradient_clipping.py", select="l2")
    assert card.score == 0 and all("not allowed" in t.message for t in failing(card))


BUGS = {
    # file: (a test that must fail, words its hint must contain)
    "no_sqrt.py": ("public/test_worked_example_l2[cpu]", "square root"),
    "per_tensor.py": ("public/test_large_gradients_are_scaled_to_max_norm[cpu]", "its own norm"),
    "scales_up.py": ("public/test_small_gradients_are_left_untouched[cpu]", "scaled up"),
    "post_clip_norm.py": ("public/test_worked_example_l2[cpu]", "after clipping"),
    "ignores_norm_type.py": ("public/test_worked_example_inf_norm[cpu]", "norm_type=inf"),
    "no_epsilon.py": ("public/test_worked_example_l2[cpu]", "1e-6"),
}


@pytest.mark.parametrize("name", sorted(BUGS))
@pytest.mark.slow
def test_buggy_submission_loses_points_with_the_right_hint(name):
    test_id, words = BUGS[name]
    card = grade("exercise-3", EX03 / name, public_only=True, select="not whole_tensor")
    results = by_id(card)
    assert results[test_id].status == "failed"
    assert words in results[test_id].hint, results[test_id]
    assert results[test_id].message.startswith(("the returned", "gradient of parameter"))
    # clip_grad_value is right in every buggy file: its tests still pass
    assert results["public/test_clip_grad_value_clamps_each_entry[cpu]"].status == "passed"
    assert 0 < card.score < card.max_score


def test_hint_only_when_the_numbers_fit():
    card = grade("exercise-3", EX03 / "no_sqrt.py", select="worked_example_inf")
    (result,) = failing(card)
    assert "expected 4, got 25" in result.message
    assert result.hint == ""  # 25 vs 4 is no classic mistake for the inf-norm


@pytest.mark.slow
def test_element_loop_fails_op_count_and_speed_with_a_clear_message():
    card = grade("exercise-3", EX03 / "element_loop.py", select="whole_tensor or speed or l2")
    results = by_id(card)
    assert results["public/test_worked_example_l2[cpu]"].status == "passed"
    ops = results[OPS]
    assert ops.status == "failed" and "loops over elements in Python" in ops.message
    speed = results[SPEED]
    assert speed.status == "failed" and "slower" in speed.message and "limit is 5x" in speed.message


CHEATS = [
    "builtin_direct.py",
    "builtin_alias.py",
    "builtin_getattr.py",
    "builtin_private.py",
    "builtin_thread.py",
    "builtin_profiler_off.py",
    "builtin_exec_in_threading.py",
]


@pytest.mark.parametrize("name", CHEATS)
@pytest.mark.slow
def test_calling_the_builtin_voids_every_test_of_the_function(name):
    card = grade("exercise-3", EX03 / name, select="worked or value or empty", audit=False)
    norm_tests = [t for t in card.tests if "clip_grad_norm" in t.functions]
    assert norm_tests and all(t.status == "failed" and t.score == 0 for t in norm_tests)
    messages = {t.message for t in norm_tests}
    assert len(messages) == 1, messages  # one message, naming what was used
    (message,) = messages
    assert "not allowed" in message
    assert all(t.voided_by in ("audit", "runtime guard") for t in norm_tests)
    assert "clip_grad_norm_" in message or "_get_total_norm" in message or "tracing" in message
    value_tests = [t for t in card.tests if t.functions == ["clip_grad_value"]]
    assert value_tests and all(t.status == "passed" for t in value_tests)


def test_builtin_in_one_function_voids_only_that_function():
    card = grade("exercise-3", EX03 / "builtin_value.py", select="worked or value or empty")
    for t in card.tests:
        if "clip_grad_value" in t.functions:
            assert t.status == "failed" and "clip_grad_value_" in t.message
        elif t.status != "skipped":
            assert t.status == "passed", t


@pytest.mark.slow
def test_public_seeds_are_fixed_and_hidden_ones_follow_the_grade_seed(tmp_path: Path):
    a = grade("exercise-3", EX03 / "no_sqrt.py", seed=1, select="small_gradients or random")
    b = grade("exercise-3", EX03 / "no_sqrt.py", seed=2, select="small_gradients or random")
    public = lambda c: [t.message for t in c.tests if t.visibility == "public"]  # noqa: E731
    hidden = lambda c: [t.message for t in c.tests if t.visibility == "hidden"]  # noqa: E731
    assert public(a) == public(b)
    assert hidden(a) != hidden(b)
