"""Instructor-only tools: stubs and notebooks from solutions, verify, release, publish.

This package never ships to students: ``grade release`` leaves it out, and the ``grade`` CLI
registers its commands only when it is importable (see ``grader.cli._add_optional_commands``).
"""
