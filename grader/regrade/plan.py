"""One student before grading: their commit, their files per exercise, what the cache holds.

Everything here reads the student's work as data: listing, hashing, comparing to the release
manifest. What still needs grading becomes a :class:`~grader.regrade.task.Job`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from grader.judge.exercises import Exercise
from grader.judge.scorecard import Scorecard
from grader.regrade import cache, integrity, locate, sources
from grader.regrade.records import StudentRecord
from grader.regrade.roster import Entry


@dataclass
class Plan:
    entry: Entry
    record: StudentRecord
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # exercise -> name -> data
    keys: dict[str, str] = field(default_factory=dict)  # exercise -> cache key
    cards: dict[str, Scorecard] = field(default_factory=dict)  # exercise -> finished card
    display: str = ""

    def pending(self, exercises: list[Exercise]) -> list[str]:
        return [ex.id for ex in exercises if ex.id not in self.cards]


@dataclass
class Settings:
    """What every student's plan depends on."""

    exercises: list[Exercise]
    seed: int
    grader: str  # the grader's fingerprint
    options: dict[str, object]  # cache-relevant grading options (not the seed)
    ref: str | None
    deadline: datetime | None
    mirrors: Path
    manifest: integrity.Manifest | None
    force: bool


def make_plan(entry: Entry, settings: Settings, store: cache.CardCache) -> Plan:
    record = StudentRecord(student=entry.student, slug=entry.slug, source=entry.repo)
    plan = Plan(entry, record)
    checkout = sources.open_source(
        entry, ref=settings.ref, deadline=settings.deadline, mirrors=settings.mirrors
    )
    record.commit, record.committed_at = checkout.commit, checkout.committed_at
    record.notes += checkout.notes
    record.flags += [n for n in checkout.notes if n.startswith("not a git repository")]
    if checkout.error or checkout.tree is None:
        record.status = "error"
        record.notes.insert(0, checkout.error or "no files")
        record.flags.append("repository unreadable")
        return plan
    try:
        listing = checkout.tree.files()
    except (OSError, sources.GitFailed) as exc:
        record.status = "error"
        record.notes.insert(0, f"cannot list the files of {entry.repo}: {exc}")
        record.flags.append("repository unreadable")
        return plan
    found = locate.locate(listing, settings.exercises)
    if found.folder is None:
        record.status = "not-found"
        record.notes.insert(
            0,
            "no file of the graded exercises in " + locate.describe_places(found.looked_in),
        )
        record.flags.append("submission not found")
    else:
        record.folder = found.folder
        _read_files(plan, checkout.tree, found, settings, store)
    if settings.manifest is not None:
        root = _repository_root(found.folder)
        record.flags += _tamper(settings.manifest, checkout.tree, listing, root)
    short = (checkout.commit or "")[:12]
    plan.display = f"{entry.student}{'@' + short if short else ''}:{found.folder or '.'}"
    return plan


def _read_files(
    plan: Plan,
    tree: sources.Tree,
    found: locate.Located,
    settings: Settings,
    store: cache.CardCache,
) -> None:
    wanted = [p for paths in found.files.values() for p in paths]
    contents = tree.read(wanted)
    for path in found.too_large:
        plan.record.flags.append(f"file too large: {path}")
    for ex in settings.exercises:
        files = {PurePosixPath(p).name: contents[p] for p in found.files.get(ex.id, [])}
        plan.files[ex.id] = files
        if not files:
            plan.record.flags.append(f"no file for {ex.id}")
        content = cache.content_hash(files)
        key = cache.card_key(ex.id, content, settings.grader, settings.seed, settings.options)
        plan.keys[ex.id] = key
        cached = None if settings.force else store.get(key)
        if cached is not None:
            plan.cards[ex.id] = cached


def _repository_root(folder: str | None) -> str:
    """The folder the release was unpacked into: ``exercises/``'s parent, or the folder."""
    if not folder:
        return ""
    path = PurePosixPath(folder)
    if path.name != "exercises":
        return folder
    return "" if str(path.parent) == "." else str(path.parent)


def _tamper(
    manifest: integrity.Manifest, tree: sources.Tree, listing: dict[str, int], root: str
) -> list[str]:
    prefix = f"{root}/" if root else ""
    files = {p[len(prefix) :]: s for p, s in listing.items() if p.startswith(prefix)}

    def read(paths: list[str]) -> dict[str, bytes]:
        got = tree.read([prefix + p for p in paths])
        return {p[len(prefix) :]: data for p, data in got.items()}

    return integrity.tamper_flags(manifest, files, read)
