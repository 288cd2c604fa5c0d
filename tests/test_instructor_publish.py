"""``grade publish-solutions``: solutions as .py and notebook, each with a passing scorecard."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.judge.scorecard import Scorecard, load

EX3 = "ex03_gradient_clipping"


@pytest.mark.slow
def test_published_solutions_pass_and_keep_hidden_tests_anonymous(tmp_path, root):
    out = tmp_path / "published"
    result = CliRunner().invoke(main, ["publish-solutions", str(out), "-e", "3", "--seed", "3"])
    assert result.exit_code == 0, result.output
    py, nb = out / f"{EX3}.py", out / f"{EX3}.ipynb"
    assert "SOLUTION" not in py.read_text() and "SOLUTION" not in nb.read_text()
    assert "raise NotImplementedError" not in py.read_text()

    def names(visibility: str) -> set[str]:
        suite = root / f"grader/suites/{visibility}/test_{EX3}.py"
        return set(re.findall(r"def (test_\w+)", suite.read_text()))

    hidden_names = names("hidden") - names("public")
    assert hidden_names
    for path in (py, nb):
        card = load(path.with_name(path.name + ".scorecard.json"))
        assert isinstance(card, Scorecard)
        assert card.score == card.max_score > 0 and card.passed
        hidden = [t for t in card.tests if t.visibility == "hidden"]
        assert hidden and all(re.fullmatch(r"hidden/\d+", t.id) for t in hidden)
        assert not [
            n
            for n in hidden_names
            if n in path.with_name(path.name + ".scorecard.json").read_text()
        ]
    index = (out / "README.md").read_text()
    assert f"[{EX3}.ipynb.scorecard.json]" in index
    assert "ok" in result.output


def test_publish_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    result = CliRunner().invoke(main, ["publish-solutions", str(tmp_path), "-e", "3", "--force"])
    assert result.exit_code == 2 and "refusing to delete it" in result.output
    assert (tmp_path / "keep.txt").exists()
