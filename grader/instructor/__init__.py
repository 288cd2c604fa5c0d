"""Instructor-only tools: stubs and notebooks from solutions, verify, release, publish.

The workflow, in the order an instructor uses it:

1. write ``solutions/exNN_<slug>.py`` with each answer between ``# BEGIN SOLUTION`` and
   ``# END SOLUTION`` (plus the reference and the suites, see ``docs/adding-an-exercise.md``);
2. ``grade stubs`` writes ``exercises/exNN_<slug>.py`` and ``.ipynb`` from it (``--check``
   only reports drift; a test fails on drift too);
3. ``grade verify`` checks every exercise: reference, solution, stub, sync (CI runs it), and
   audits the files a release would ship for answers (``audit.py``);
4. ``grade release OUT_DIR`` builds the student repository -- the public suites with the
   answers they need recorded, no reference code -- audits it, and writes or updates it;
5. after the deadline, ``grade publish-solutions OUT_DIR`` writes the solutions with the
   scorecards that prove them.

This package never ships to students: ``grade release`` leaves it out, and the ``grade`` CLI
registers its commands only when it is importable (see ``grader.cli._add_optional_commands``).
"""
