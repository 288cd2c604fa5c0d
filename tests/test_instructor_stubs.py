"""Stubs and notebooks generated from the solutions: the rule, and no drift in exercises/."""

from __future__ import annotations

import ast
import shutil
import textwrap

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.instructor import notebooks, stubs, sync
from grader.judge import exercises


@pytest.mark.slow
def test_committed_exercises_are_exactly_what_the_solutions_generate(root):
    problems = sync.drift(root)
    assert not problems, (
        "exercises/ has drifted from solutions/:\n  "
        + "\n  ".join(problems)
        + f"\nregenerate with `{sync.REGENERATE}` (then commit exercises/)"
    )


def test_every_exercise_has_a_solution_to_generate_from(root):
    solutions = {p.stem for p in stubs.solution_files(root)}
    missing = [ex.id for ex in exercises.all_exercises() if ex.module not in solutions]
    assert not missing, f"no solutions/exNN_<slug>.py for {missing}"


@pytest.mark.parametrize(
    "solution", stubs.solution_files(sync.repo_root()), ids=lambda path: path.stem
)
def test_every_stub_notebook_grades_the_same_code_as_the_stub(root, solution):
    stub = stubs.stub_for(solution)
    text = notebooks.stub_notebook(stub, solution)
    assert sync.code_mismatch(text.encode(), "nb.ipynb", stub, solution.name) is None
    # the comparison does see a difference in the code
    changed = text.replace("raise NotImplementedError", "return None  #")
    assert sync.code_mismatch(changed.encode(), "nb.ipynb", stub, solution.name)
    assert notebooks.stub_notebook(stub, solution) == text  # deterministic, ids included


SOLUTION = '''\
"""Exercise 9 - demo."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn


def top(x: Tensor) -> Tensor:
    """Doc stays."""
    y = x + 1  # setup the stub keeps
    # BEGIN SOLUTION
    return torch.exp(y) * math.pi
    # END SOLUTION


class Engine(nn.Module):
    def step(self, f: Callable[[Tensor], Tensor]) -> None:
        def helper() -> None:
            # BEGIN SOLUTION
            print("# BEGIN SOLUTION is only text here")
            # END SOLUTION

        helper()

    class Inner:
        def go(self) -> int:
            ### BEGIN SOLUTION
            return 1
            ### END SOLUTION
'''


def test_regions_become_one_raise_naming_the_function_or_method():
    stub = stubs.make_stub(SOLUTION, 9)
    top = [
        "def top(x: Tensor) -> Tensor:",
        '    """Doc stays."""',
        "    y = x + 1  # setup the stub keeps",
        '    raise NotImplementedError("exercise-9: write top")',
        "",
    ]
    assert "\n".join(top) in stub
    assert '            raise NotImplementedError("exercise-9: write Engine.step")\n' in stub
    assert '            raise NotImplementedError("exercise-9: write Engine.Inner.go")\n' in stub
    assert "SOLUTION" not in stub and "math.pi" not in stub
    ast.parse(stub)


def test_a_function_defined_under_a_module_level_if_is_named():
    source = (
        "import sys\n\n"
        "if sys.version_info >= (3, 10):\n\n"
        "    def clip(x):\n"
        "        # BEGIN SOLUTION\n"
        "        return x\n"
        "        # END SOLUTION\n"
    )
    stub = stubs.make_stub(source, 3)
    assert 'raise NotImplementedError("exercise-3: write clip")' in stub
    ast.parse(stub)


def test_imports_only_the_answers_used_stay_marked_for_ruff():
    stub = stubs.make_stub(SOLUTION, 9)
    assert f"import math  {stubs.ANSWER_IMPORT}\n" in stub
    assert f"import torch  {stubs.ANSWER_IMPORT}\n" in stub
    assert "from torch import Tensor, nn\n" in stub  # still used by signatures
    assert "from collections.abc import Callable\n" in stub
    assert "from __future__ import annotations\n" in stub


def test_published_solutions_lose_only_the_marker_lines():
    clean = stubs.strip_markers(SOLUTION)
    assert "BEGIN SOLUTION\n" not in clean and "return torch.exp(y) * math.pi" in clean
    assert 'print("# BEGIN SOLUTION is only text here")' in clean
    assert len(clean.splitlines()) == len(SOLUTION.splitlines()) - 6


@pytest.mark.parametrize(
    "source, message",
    [
        ("# BEGIN SOLUTION\nX = 1\n# END SOLUTION\n", "must be inside a function"),
        ("def f():\n    # BEGIN SOLUTION\n    pass\n", ":2: BEGIN SOLUTION is never closed"),
        ("def f():\n    pass\n    # END SOLUTION\n", ":3: END SOLUTION without a BEGIN"),
        (
            "def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    pass\n",
            "BEGIN SOLUTION inside the region of line 2",
        ),
        ("def f():\n    # begin solution\n    pass\n", "looks like a solution marker"),
        ("def f(:\n", "syntax error"),
    ],
)
def test_malformed_solutions_get_a_message_with_the_line(source, message):
    with pytest.raises(stubs.StubError, match=message) as info:
        stubs.make_stub(textwrap.dedent(source), 1, "solutions/ex01_x.py")
    assert str(info.value).startswith("solutions/ex01_x.py")


@pytest.mark.slow
def test_write_regenerates_exactly_what_drifted(root, tmp_path):
    shutil.copytree(root / "solutions", tmp_path / "solutions")
    shutil.copytree(root / "exercises", tmp_path / "exercises")
    sync.write(tmp_path)
    assert sync.drift(tmp_path) == []
    stub = tmp_path / "exercises" / "ex03_gradient_clipping.py"
    stub.write_text(stub.read_text().replace("write clip_grad_norm", "write it"))
    (tmp_path / "exercises" / "ex03_gradient_clipping.ipynb").unlink()
    assert sync.drift(tmp_path) == [
        "exercises/ex03_gradient_clipping.py differs from what "
        "solutions/ex03_gradient_clipping.py generates",
        "exercises/ex03_gradient_clipping.ipynb is missing",
    ]
    assert sync.write(tmp_path) == [stub, stub.with_suffix(".ipynb")]
    assert sync.drift(tmp_path) == []


@pytest.mark.parametrize("command", ["stubs", "verify", "release", "publish-solutions"])
def test_instructor_commands_have_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and len(result.output.splitlines()) > 5


DEMO_STUB = '''"""Exercise 9 - Demo.

Text with ``code`` and $x^2$.
"""

from collections.abc import Callable


def f(x: int) -> int:
    """Double x.

    Example:
        >>> f(1)
        2
        >>> f(2); g = lambda v: v
        >>> g(f(
        ...     4))
        8
    """
    raise NotImplementedError("exercise-9: write f")
'''


def test_notebook_cells_teach_then_stub_then_try_then_grade():
    nb = notebooks.build(DEMO_STUB, 9, "ex09_demo")
    cells = [(c.cell_type, c.source) for c in nb.cells]
    assert cells[0] == ("markdown", "# Exercise 9 - Demo\n\nText with `code` and $x^2$.")
    assert cells[2] == ("code", "from collections.abc import Callable")
    assert cells[3] == ("markdown", "## The function `f`")
    assert cells[4][1].startswith("def f(x: int) -> int:") and cells[4][1].endswith('write f")')
    assert cells[6] == (
        "code",
        "print(f(1))  # shows 2\nf(2)\ng = lambda v: v  # noqa: E731\ng(f(4))  # shows 8",
    )
    assert cells[-1] == ("code", "!grade exercise-9 --submission ex09_demo.ipynb")
    assert [c.id for c in nb.cells] == [f"{c.cell_type}-{i}" for i, c in enumerate(nb.cells, 1)]
