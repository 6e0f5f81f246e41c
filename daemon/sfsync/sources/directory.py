"""A drop folder as a source: reading it from disk (the I/O half of `candidates.py`)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from sfsync.errors import NothingPublishedError, SourceError
from sfsync.sources.candidates import Candidate, Choice, choose_package, is_candidate, is_ignored
from sfsync.sources.source import Look, Package

# A settle wait is never shorter, so a clock a hair off never spins the daemon on it.
_LEAST_WAIT_SECONDS = 0.05


def list_candidates(folder: Path) -> list[Candidate]:
    """Given a drop folder, return its ZIP files and package folders with their modification times.

    Raise SourceError if the folder cannot be listed.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError as error:
        raise SourceError(f"source folder {folder}: cannot list it: {error.strerror}") from None
    candidates = []
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            if not is_candidate(entry.name, is_dir=is_dir):
                continue
            modified = _newest_mtime(Path(entry.path)) if is_dir else entry.stat().st_mtime
        except FileNotFoundError:
            continue  # renamed or removed while we looked: the next scan sees the new state
        candidates.append(Candidate(name=entry.name, is_dir=is_dir, modified=modified))
    return candidates


def _newest_mtime(root: Path) -> float:
    newest = root.stat().st_mtime
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if not is_ignored(name)]
        for name in files:
            newest = max(newest, (Path(directory) / name).lstat().st_mtime)
    return newest


class DirectorySource:
    """A drop folder: the newest entry unchanged for the settle period is the package."""

    def __init__(self, folder: Path, settle: timedelta) -> None:
        self.folder = folder
        self.settle = settle

    def look(self, now: float) -> Look:
        """Given the time, return the settled package (if any) and the wait for newer ones.

        Raise NothingPublishedError naming the folder if it holds no package, settled or not;
        SourceError if it cannot be listed.
        """
        choice: Choice = choose_package(list_candidates(self.folder), now, self.settle)
        settle_seconds = self.settle.total_seconds()
        wait: float | None = None
        waiting_for = ""
        if choice.settling:
            # Coalesce a burst: the daemon waits for the newest publish instead of pushing an
            # older one.
            newest = max(candidate.modified for candidate in choice.settling)
            wait = max(_LEAST_WAIT_SECONDS, newest + settle_seconds - now)
            names = ", ".join(candidate.name for candidate in choice.settling)
            waiting_for = (
                f"source folder {self.folder}: {names} changed less than {settle_seconds:g}s "
                "ago; waiting for it to settle"
            )
        chosen = choice.chosen
        if chosen is None and wait is None:
            raise NothingPublishedError(
                f"source folder {self.folder}: no package yet (a *.zip file or a package folder)"
            )
        if chosen is None:
            return Look(None, None, wait, waiting_for)
        package = Package(self.folder / chosen.name)
        return Look(package, (chosen.name, chosen.modified), wait, waiting_for)
