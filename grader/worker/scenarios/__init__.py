"""Trusted harness code that runs *inside* the worker, one module per exercise.

Each module mirrors ``reference/exNN_<slug>.py``. Scenarios build objects around student code
and return plain data; the judge compares that data with its own reference run. ``common/``
holds the course code more than one exercise builds with, which the judge imports too.
"""
