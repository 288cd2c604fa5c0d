"""Similar submissions: copies are flagged whatever they rename; independent answers are not."""

from grader.regrade import similarity
from tests.regrade_fixtures import INDEPENDENT, SOLUTION, STUB, renamed_copy

TEMPLATE = similarity.template_hashes(STUB.read_text())


def answer(student: str, text: str) -> similarity.Answer:
    return similarity.fingerprint(student, "exercise-3", text, TEMPLATE)


def test_normalising_ignores_names_comments_docstrings_and_layout():
    one = "def f(a, b):\n    '''doc'''\n    return a.mul_(b) + 1  # note\n"
    two = "def g(x,\n      y):\n    # other\n    return x.mul_(y) + 2\n"
    assert similarity.normalise(one).text == similarity.normalise(two).text
    assert "mul_" in similarity.normalise(one).text  # what the code does stays


def test_a_renamed_copy_is_flagged_with_the_matching_lines():
    original = SOLUTION.read_text()
    matches = similarity.similar_pairs(
        [answer("alice", original), answer("frank", renamed_copy(original))]
    )
    assert [(m.a, m.b) for m in matches] == [("alice", "frank")]
    match = matches[0]
    assert match.similarity > 0.9 and match.regions
    first, last = match.regions[0].a_lines
    body = "\n".join(original.splitlines()[first - 1 : last])
    assert "vector_norm" in body  # the answer's code, not the shared stub around it


def test_independent_correct_answers_are_not_flagged():
    matches = similarity.similar_pairs(
        [answer("alice", SOLUTION.read_text()), answer("gina", INDEPENDENT.read_text())]
    )
    assert matches == []


def test_the_untouched_template_has_no_fingerprints_so_two_stubs_are_not_alike():
    stubs = [answer("s1", STUB.read_text()), answer("s2", STUB.read_text())]
    assert all(not a.prints for a in stubs)
    assert similarity.similar_pairs(stubs) == []


def test_a_passage_most_of_a_large_class_shares_is_an_idiom_not_a_copy():
    text = SOLUTION.read_text()
    crowd = [answer(f"s{i}", text) for i in range(similarity.COMMON_AT_LEAST + 1)]
    assert similarity.similar_pairs(crowd) == []


def test_code_that_does_not_tokenize_to_the_end_is_compared_up_to_the_error():
    broken = SOLUTION.read_text() + "\ndef oops(:\n    '''unterminated\n"
    assert similarity.normalise(broken).text
