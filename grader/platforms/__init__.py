"""Renderers for grading platforms, all reading the one scorecard model.

``classroom`` speaks the GitHub Classroom autograding protocol (the base64 ``result`` step
output read by ``autograding-grading-reporter``) and writes a job summary; ``junit`` writes JUnit
XML for other CI systems; ``gradescope`` writes ``results.json`` and builds the autograder zip.
``formats`` wires them to ``grade --format``. None of them grades anything: they only render a
:class:`~grader.judge.scorecard.Scorecard` or :class:`~grader.judge.scorecard.Bundle`.
"""
