"""trainloop-grader: the autograder for *Learn the Training Loop with PyTorch*.

Layers, one folder each:

- ``grader.judge``    -- trusted: CLI plumbing, pytest plugin, comparisons, scorecard. Never
  imports student code.
- ``grader.protocol`` -- the data-only wire format between judge and worker.
- ``grader.worker``   -- the sandboxed process that imports student code and answers calls.
- ``grader.suites``   -- the instructors' pytest suites, one public and one hidden per exercise.
"""

__version__ = "0.1.0"
