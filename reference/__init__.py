"""Reference implementations, built on PyTorch's own functions; imported by the judge only.

One module per exercise, ``exNN_<slug>.py``, with the student-facing API plus two literals the
grader reads: ``TITLE`` and ``FORBIDDEN`` (dotted names a student may not call).
"""
