"""Each student's files at the commit being graded, read without touching their repository.

A plain folder is read as it is (with ``--deadline`` or ``--ref`` it is graded as found and
flagged: it has no history to pick a commit from). A git repository is read at one commit --
``HEAD``, ``--ref`` or the roster's ``ref``, and with ``--deadline`` the last commit at or before
it -- through git's plumbing (``ls-tree``, ``cat-file``): no checkout, no working-tree change,
no hook, nothing written into the student's repository. A git URL is mirrored once into the
output folder and fetched on later runs.

Symlinks are never followed (a committed link to ``/home/instructor/solutions`` is not a
submission), and oversized files are listed but not read.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from grader.regrade.roster import Entry

SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".venv", "node_modules"}
# Read-only plumbing only; these also switch off the two ways a repository's own config
# could run a command (an fsmonitor hook, hooks) should a later git version consult them.
GIT = ["git", "--no-pager", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null"]
GIT_TIMEOUT_S = 300


class Tree(Protocol):
    """The files of one student's work, as posix paths relative to the repository root."""

    def files(self) -> dict[str, int]:
        """Every regular file and its size in bytes."""
        ...

    def read(self, paths: list[str]) -> dict[str, bytes]:
        """The contents of ``paths`` (which must be in :meth:`files`)."""
        ...


@dataclass
class FolderTree:
    root: Path

    def files(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for folder, dirs, names in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for name in names:
                path = Path(folder) / name
                if path.is_symlink() or not path.is_file():
                    continue
                found[path.relative_to(self.root).as_posix()] = path.stat().st_size
        return found

    def read(self, paths: list[str]) -> dict[str, bytes]:
        return {p: (self.root / p).read_bytes() for p in paths}


@dataclass
class GitTree:
    repo: Path
    commit: str
    _listing: dict[str, tuple[str, int]] | None = None

    def _list(self) -> dict[str, tuple[str, int]]:
        if self._listing is None:
            out = git(self.repo, "ls-tree", "-r", "-z", "-l", "--full-tree", self.commit)
            listing = {}
            for record in out.split(b"\0"):
                if not record:
                    continue
                meta, _, path = record.partition(b"\t")
                mode, kind, sha, size = meta.split()
                if kind == b"blob" and mode in (b"100644", b"100755"):  # no links, submodules
                    listing[path.decode("utf-8", "replace")] = (sha.decode(), int(size))
            self._listing = listing
        return self._listing

    def files(self) -> dict[str, int]:
        return {path: size for path, (_, size) in self._list().items()}

    def read(self, paths: list[str]) -> dict[str, bytes]:
        if not paths:
            return {}
        listing = self._list()
        shas = [listing[p][0] for p in paths]
        out = git(self.repo, "cat-file", "--batch", stdin="\n".join(shas) + "\n")
        contents, at = {}, 0
        for path in paths:
            header_end = out.index(b"\n", at)
            size = int(out[at:header_end].split()[2])
            contents[path] = out[header_end + 1 : header_end + 1 + size]
            at = header_end + 1 + size + 1
        return contents


@dataclass
class Checkout:
    """A student's work ready to read, or why it is not."""

    entry: Entry
    tree: Tree | None = None
    commit: str | None = None
    committed_at: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


class GitFailed(Exception):
    pass


def git(repo: Path | None, *args: str, stdin: str | None = None) -> bytes:
    """Run git (in ``repo`` when given); :class:`GitFailed` with git's own last line."""
    cmd = [*GIT, *(["-C", str(repo)] if repo is not None else []), *args]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    try:
        done = subprocess.run(
            cmd,
            input=stdin.encode() if stdin is not None else None,
            capture_output=True,
            env=env,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise GitFailed("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitFailed(f"git {args[0]} took more than {GIT_TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitFailed(lines[-1] if lines else f"git {args[0]} failed")
    return done.stdout


def is_git_repository(path: Path) -> bool:
    """A working tree with ``.git``, or a bare repository (never a folder inside another repo)."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def open_source(
    entry: Entry, *, ref: str | None, deadline: datetime | None, mirrors: Path
) -> Checkout:
    """Where ``entry``'s work is, at the commit the options select."""
    checkout = Checkout(entry)
    wanted = entry.ref or ref
    try:
        if entry.is_url:
            repo = _mirror(entry, mirrors)
        else:
            repo = Path(entry.repo)
            if not repo.is_dir():
                checkout.error = f"{repo} is not a folder"
                return checkout
            if not is_git_repository(repo):
                if wanted or deadline:  # e.g. an LMS upload: its deadline was the LMS's
                    checkout.notes.append(
                        f"not a git repository: graded as found, without "
                        f"{'--deadline' if deadline else '--ref'}"
                    )
                checkout.tree = FolderTree(repo)
                return checkout
        _pick_commit(checkout, repo, wanted or "HEAD", deadline)
    except GitFailed as exc:
        checkout.error = f"cannot read the repository {entry.repo}: {exc}"
    return checkout


def _mirror(entry: Entry, mirrors: Path) -> Path:
    """A bare mirror of ``entry.repo`` under ``mirrors``, cloned once and fetched after."""
    target = mirrors / f"{entry.slug}.git"
    if target.is_dir():
        git(target, "remote", "set-url", "origin", entry.repo)
        git(target, "fetch", "--quiet", "--prune", "origin")
    else:
        mirrors.mkdir(parents=True, exist_ok=True)
        git(None, "clone", "--quiet", "--mirror", "--no-hardlinks", entry.repo, str(target))
    return target


def _pick_commit(checkout: Checkout, repo: Path, ref: str, deadline: datetime | None) -> None:
    try:
        tip = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except GitFailed:
        tip = ""
    if not tip:
        checkout.error = f"{checkout.entry.repo} has no commit {ref!r}"
        return
    commit = tip
    if deadline is not None:
        when = deadline.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000")
        commit = git(repo, "rev-list", "-1", f"--before={when}", tip, "--").decode().strip()
        if not commit:
            checkout.error = (
                f"no commit of {ref} at or before the deadline {deadline.isoformat()} "
                "(all of its commits are later)"
            )
            return
        later = int(git(repo, "rev-list", "--count", f"{commit}..{tip}").decode().strip() or 0)
        if later:
            checkout.notes.append(f"{later} commit(s) after the deadline not graded")
    checkout.commit = commit
    checkout.committed_at = git(repo, "show", "-s", "--format=%cI", commit).decode().strip()
    checkout.tree = GitTree(repo, commit)


def parse_deadline(text: str) -> datetime:
    """An ISO-8601 time; without an offset it is this machine's local time."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.astimezone()
