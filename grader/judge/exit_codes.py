"""The exit codes of ``grade``, and the one rule that turns a grading's outcome into one.

Scripts and CI steps branch on these, so they mean the same in every format and command:

- ``0`` -- every test passed;
- ``1`` -- the submission was graded and some test failed;
- ``2`` -- it could not be graded: a usage error, a missing or unparsable submission (a file
  that does not exist, a syntax error, a notebook that will not load, a folder with no
  exercise files), or an error of the grader itself;
- ``130`` / ``143`` -- interrupted by SIGINT / SIGTERM (128 + the signal; see
  :mod:`grader.judge.interrupts`), after the scorecard of what finished was written.

``--format classroom`` exits 0 once its outputs are written: there the reporter step fails
the job, as with GitHub Classroom's own graders.
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.judge.scorecard import Bundle, Scorecard

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_ERROR = 2


def for_card(card: Scorecard | Bundle, errors: Sequence[str] = ()) -> int:
    """The exit code for ``card`` (one exercise, or a ``grade all`` bundle) and the grading
    errors reported beside it."""
    cards = list(card.exercises) if isinstance(card, Bundle) else [card]
    if card.interrupted:
        from grader.judge import interrupts

        return interrupts.exit_code()
    if errors or not cards or any(c.submission.error for c in cards):
        return EXIT_ERROR
    return EXIT_PASSED if all(c.passed for c in cards) else EXIT_FAILED
