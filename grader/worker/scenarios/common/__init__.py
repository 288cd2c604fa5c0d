"""Trusted course code that more than one exercise builds with, in the worker and in the judge.

A scenario module serves one exercise and may install probes when the worker imports it; a
module here has no side effects, so the judge can import it too and build exactly what the
worker builds. Every worker's view holds this folder (``grader/judge/sandbox/view.py``).
"""
