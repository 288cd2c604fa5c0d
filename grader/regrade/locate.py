"""Where a student's exercise files are inside their repository.

The same places a student's ``grade all`` looks: ``exercises/`` (the released layout) or the
repository root; and, for a zip download that wraps everything in one folder, the same two
places inside that folder. A repository with none of the graded exercises' files anywhere
there is *not found* -- listed as such, never graded as a row of zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.judge.exercises import Exercise, parse_file_name
from grader.judge.notebook_source import MAX_NOTEBOOK_BYTES
from grader.judge.submission import MAX_SOURCE_BYTES


@dataclass
class Located:
    """The folder graded (posix, relative to the repository; "" is the root) and its files."""

    folder: str | None
    files: dict[str, list[str]] = field(default_factory=dict)  # exercise id -> repo paths
    too_large: list[str] = field(default_factory=list)
    looked_in: list[str] = field(default_factory=list)


def _candidates(paths: dict[str, int]) -> list[str]:
    tops = {p.split("/", 1)[0] for p in paths if "/" in p}
    at_root = [p for p in paths if "/" not in p]
    wrapper = sorted(tops - {"exercises", ".github"})
    found = ["exercises", ""]
    if len(wrapper) == 1 and not any(parse_file_name(p) for p in at_root):
        found += [f"{wrapper[0]}/exercises", wrapper[0]]
    return found


def _in_folder(paths: dict[str, int], folder: str) -> dict[str, int]:
    """Exercise file names directly inside ``folder`` -> their exercise number."""
    prefix = f"{folder}/" if folder else ""
    found = {}
    for path in paths:
        if not path.startswith(prefix):
            continue
        name = path[len(prefix) :]
        parsed = parse_file_name(name)
        if parsed and "/" not in name:
            found[name] = parsed[0]
    return found


def locate(paths: dict[str, int], exercises: list[Exercise]) -> Located:
    """The first candidate folder holding a file of any graded exercise, and those files."""
    wanted = {ex.number: ex for ex in exercises}
    looked = _candidates(paths)
    for folder in looked:
        names = _in_folder(paths, folder)
        if not any(number in wanted for number in names.values()):
            continue
        located = Located(folder=folder, looked_in=looked)
        prefix = f"{folder}/" if folder else ""
        for name, number in sorted(names.items()):
            ex = wanted.get(number)
            if ex is None:
                continue
            path = prefix + name
            limit = MAX_SOURCE_BYTES if name.endswith(".py") else MAX_NOTEBOOK_BYTES
            if paths[path] > limit:
                located.too_large.append(path)  # the judge would refuse it; don't ship it
                continue
            located.files.setdefault(ex.id, []).append(path)
        return located
    return Located(folder=None, looked_in=looked)


def describe_places(looked: list[str]) -> str:
    return ", ".join(f"{f}/" if f else "the repository root" for f in looked)
