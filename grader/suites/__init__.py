"""Instructors' pytest suites: ``public/`` ships to students, ``hidden/`` never does.

``support/`` holds per-exercise helpers (input builders, diagnoses) shared by both.
"""
