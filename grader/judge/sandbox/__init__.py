"""The worker's sandbox: which isolation this machine offers, what the worker may see, and
starting and killing it.

- :mod:`~grader.judge.sandbox.modes` -- probing: bwrap / unshare / process, Landlock, seccomp;
- :mod:`~grader.judge.sandbox.view` -- the allow-list of files and the worker's view folder;
- :mod:`~grader.judge.sandbox.launch` -- one worker process: start, output, kill.
"""

from grader.judge.sandbox.launch import Limits, WorkerProcess, launch
from grader.judge.sandbox.modes import (
    LEVELS,
    MODES,
    Capabilities,
    available_mode,
    capabilities,
    level_of,
    meets,
)

__all__ = [
    "LEVELS",
    "MODES",
    "Capabilities",
    "Limits",
    "WorkerProcess",
    "available_mode",
    "capabilities",
    "launch",
    "level_of",
    "meets",
]
