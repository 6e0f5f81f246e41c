"""Reading a drop folder from disk (the I/O half of `candidates.py`)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from sfsync.errors import NothingPublishedError, SourceError
from sfsync.sources.candidates import Candidate, Choice, choose_package, is_candidate, is_ignored


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


def find_package(folder: Path, now: float, settle: timedelta) -> Path:
    """Given a drop folder, the time and the settle period, return the path of the package to use.

    Raise SourceError naming the folder if it holds no complete package yet.
    """
    choice: Choice = choose_package(list_candidates(folder), now, settle)
    if choice.chosen is not None:
        return folder / choice.chosen.name
    if choice.settling:
        names = ", ".join(candidate.name for candidate in choice.settling)
        raise NothingPublishedError(
            f"source folder {folder}: {names} changed less than {settle.total_seconds():g}s ago; "
            "waiting for it to settle"
        )
    raise NothingPublishedError(
        f"source folder {folder}: no package yet (a *.zip file or a package folder)"
    )
