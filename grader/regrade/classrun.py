"""``grade class``: the pipeline from a roster to a gradebook.

roster -> each student's commit and files (plan) -> cached cards reused -> one task per student
with something left to grade (engine) -> cards cached as they arrive -> similarity -> outputs:
``students/<name>.json`` (a ``grade all`` bundle each, signed on request), ``gradebook.csv``,
``summary.json`` and ``report.html``.

The class's seed is recorded in the output folder before anything is graded, so an interrupted
run resumes with the same seed (and so the same cache keys) unless ``--seed`` says otherwise.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grader
from grader.judge import interrupts
from grader.judge.exercises import Exercise
from grader.judge.failures import GraderError
from grader.judge.scorecard import Bundle, Scorecard, write_atomic
from grader.regrade import answers, cache, integrity, records, roster
from grader.regrade.engine import DaskEngine, Engine, LocalEngine
from grader.regrade.plan import Plan, Settings, make_plan
from grader.regrade.progress import reporter
from grader.regrade.similarity import Match
from grader.regrade.task import Job, JobResult

STATE_FILE = ".trainloop-class.json"
# Isolation a grade of record needs: bwrap, or Landlock with seccomp where the runner reports
# an isolation level; a bare process (or unshare without masking) is feedback only.
RECORD_GRADE = {"bwrap", "landlock"}


@dataclass
class ClassOptions:
    source: Path
    out: Path
    exercises: list[Exercise]
    deadline: datetime | None = None
    ref: str | None = None
    seed: int | None = None
    workers: int = 1
    engine: str = "local"
    scheduler: str | None = None
    force: bool = False
    manifest: Path | None = None
    sign_key: Path | None = None
    template: Path | None = None
    device: str = "cpu"
    isolation: str = "auto"
    visibilities: tuple[str, ...] = ("public", "hidden")
    select: str | None = None
    quiet: bool = False
    similarity: bool = True


@dataclass
class Outcome:
    summary: records.ClassSummary
    interrupted: bool = False
    plans: list[Plan] = field(default_factory=list)


def class_seed(out: Path, asked: int | None) -> int:
    """``asked``, else the seed an earlier run into ``out`` recorded, else a fresh one."""
    state = out / STATE_FILE
    seed = asked
    if seed is None:
        try:
            seed = int(json.loads(state.read_text(encoding="utf-8"))["seed"])
        except (OSError, ValueError, KeyError, TypeError):
            seed = secrets.randbits(31)
    state.write_text(json.dumps({"seed": seed}) + "\n", encoding="utf-8")
    return seed


def _engine(opts: ClassOptions) -> Engine:
    if opts.engine == "dask":
        if not opts.scheduler:
            raise GraderError("--engine dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
        return DaskEngine(opts.scheduler)
    return LocalEngine(opts.workers)


def _hidden_folders(opts: ClassOptions, entries: list[roster.Entry]) -> list[str]:
    """Folders a worker should not see: other students' work, the outputs, the signing key."""
    wanted = {opts.out.resolve()}
    if opts.source.is_dir():
        wanted.add(opts.source.resolve())
    else:
        wanted |= {Path(e.repo) for e in entries if not e.is_url}
    if opts.sign_key is not None:
        wanted.add(opts.sign_key.resolve().parent)
    needed = [Path(grader.__file__).resolve().parent, Path(sys.prefix).resolve()]
    return sorted(str(p) for p in wanted if not any(n.is_relative_to(p) for n in needed))


def run(opts: ClassOptions) -> Outcome:
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    entries = roster.load(opts.source)
    manifest = integrity.load_manifest(opts.manifest) if opts.manifest else None
    key = None
    if opts.sign_key is not None:
        from grader.regrade import signing

        key = signing.load_private(opts.sign_key)  # a bad key fails before any grading
    engine = _engine(opts)
    try:
        opts.out.mkdir(parents=True, exist_ok=True)
        (opts.out / "students").mkdir(exist_ok=True)
    except OSError as exc:
        raise GraderError(f"cannot write to {opts.out}: {exc.strerror}") from None
    seed = class_seed(opts.out, opts.seed)
    grading: dict[str, object] = {
        "device": opts.device,
        "isolation": opts.isolation,
        "visibilities": list(opts.visibilities),
        "select": opts.select,
    }
    fingerprint = cache.grader_fingerprint()
    settings = Settings(
        exercises=opts.exercises,
        seed=seed,
        grader=fingerprint,
        options=grading,
        ref=opts.ref,
        deadline=opts.deadline,
        mirrors=opts.out / ".repos",
        manifest=manifest,
        force=opts.force,
    )
    store = cache.CardCache(opts.out / ".cache")
    plans = [make_plan(entry, settings, store) for entry in entries]
    by_name = {p.entry.student: p for p in plans}
    hide = _hidden_folders(opts, entries)
    jobs = [
        Job(
            student=p.entry.student,
            files={n: d for ex in p.pending(opts.exercises) for n, d in p.files[ex].items()},
            exercises=p.pending(opts.exercises),
            options={**grading, "seed": seed},
            fingerprint=fingerprint,
            display=p.display,
            hide=hide,
        )
        for p in plans
        if p.record.status == "pending" and p.pending(opts.exercises)
    ]
    waiting = {job.student for job in jobs}
    for p in plans:
        if p.record.status == "pending" and p.entry.student not in waiting:
            _finish(p, opts, seed, None)  # everything came from the cache
    progress = reporter(opts.quiet)
    progress.start(total=len(plans), already=len(plans) - len(jobs))

    def done(result: JobResult) -> None:
        plan = by_name[result.student]
        _finish(plan, opts, seed, result, store)
        progress.advance(plan.record)

    interrupted = False
    interrupts.install()  # SIGTERM stops the class like Ctrl-C; `grade class` exits 143
    try:
        engine.run(jobs, done)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    matches: list[Match] = []
    if not interrupted and opts.similarity:
        matches = answers.similar(plans, opts.exercises, opts.template)
    summary = records.ClassSummary(
        complete=not interrupted,
        grader_version=grader.__version__,
        grader_fingerprint=fingerprint,
        seed=seed,
        started_at=started.isoformat(timespec="seconds"),
        duration_s=round(time.perf_counter() - t0, 3),
        source=str(opts.source),
        engine=engine.name,
        workers=opts.workers if engine.name == "local" else None,
        deadline=opts.deadline.isoformat() if opts.deadline else None,
        ref=opts.ref,
        exercises=[ex.id for ex in opts.exercises],
        options={**grading, "seed": seed},
        manifest=str(opts.manifest) if opts.manifest else None,
        counts=records.counts([p.record for p in plans]),
        students=[p.record for p in plans],
    )
    if not interrupted:
        graded = {p.entry.student: list(p.cards.values()) for p in plans if p.cards}
        summary.tests = records.pass_rates([c for cards in graded.values() for c in cards])
        summary.hints = records.frequent_hints(graded)
        summary.similar = [answers.as_record(m) for m in matches]
        summary.counts = records.counts([p.record for p in plans])
        if key is not None:
            summary.signed_with = _sign(plans, opts, key, fingerprint)
    _write_outputs(summary, plans, opts, matches, interrupted)
    return Outcome(summary, interrupted, plans)


def _isolation(card: Scorecard) -> str:
    """The card's isolation level where the runner reports one, else its sandbox mode."""
    env = card.environment
    return str(getattr(env, "isolation_level", None) or env.isolation_mode)


def _finish(
    plan: Plan,
    opts: ClassOptions,
    seed: int,
    result: JobResult | None,
    store: cache.CardCache | None = None,
) -> None:
    """Merge fresh cards with cached ones, cache the fresh, and write the student's bundle."""
    record = plan.record
    if result is not None:
        if result.error:
            record.status = "error"
            record.notes.insert(0, result.error)
            record.flags.append("grading error")
        for text in result.cards:
            card = Scorecard.model_validate_json(text)
            plan.cards[card.exercise] = card
            record.cards_graded += 1
            if store is not None and cache.is_cacheable(card):
                store.put(plan.keys[card.exercise], card)
        for err in result.errors:
            record.flags.append(f"grading error: {err.splitlines()[0]}")
            record.status = "error"
    record.cards_cached = len(plan.cards) - record.cards_graded
    cards = [plan.cards[ex.id] for ex in opts.exercises if ex.id in plan.cards]
    if not cards:
        return
    if record.status == "pending":
        record.status = "graded" if len(cards) == len(opts.exercises) else "error"
    record.scores = {c.exercise: c.score for c in cards}
    record.max_scores = {c.exercise: c.max_score for c in cards}
    record.total = round(sum(c.score for c in cards), 6)
    record.max = round(sum(c.max_score for c in cards), 6)
    record.isolation = sorted({_isolation(c) for c in cards if c.environment.isolation})
    weak = [m for m in record.isolation if m not in RECORD_GRADE]
    if weak:
        record.flags.append(f"not a grade of record: isolation {', '.join(weak)}")
    for card in cards:
        for finding in integrity.card_findings(json.loads(card.model_dump_json())):
            record.flags.append(f"{card.exercise}: {finding}")
    bundle = Bundle(
        score=record.total,
        max_score=record.max,
        seed=seed,
        started_at=min(c.started_at for c in cards),
        duration_s=round(sum(c.duration_s for c in cards), 3),
        exercises=cards,
    )
    path = opts.out / "students" / f"{plan.entry.slug}.json"
    write_atomic(path, bundle)
    record.scorecard = path.relative_to(opts.out).as_posix()


def _sign(plans: list[Plan], opts: ClassOptions, key: Any, fingerprint: str) -> str:
    from grader.regrade import signing

    for plan in plans:
        if plan.record.scorecard:
            signing.sign_file(
                opts.out / plan.record.scorecard,
                key,
                student=plan.entry.student,
                commit=plan.record.commit,
                fingerprint=fingerprint,
            )
    return signing.key_id(key.public_key())


def _write_outputs(
    summary: records.ClassSummary,
    plans: list[Plan],
    opts: ClassOptions,
    matches: list[Match],
    interrupted: bool,
) -> None:
    from grader.regrade import gradebook, report

    out = opts.out
    _write_text(out / "summary.json", summary.model_dump_json(indent=2) + "\n")
    if interrupted:
        return
    _write_text(out / "gradebook.csv", gradebook.render(summary.students, summary.exercises))
    _write_text(out / "report.html", report.render(summary, matches))


def _write_text(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
