"""Deciding which entry of a drop folder is the package to use (pure: listings in, choice out)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

# Publishers write "name.zip.part" (or .tmp) and rename it into place; such names are never
# complete, and dot-files are editor or sync-tool droppings.
_INCOMPLETE_SUFFIXES = (".part", ".tmp")


@dataclass(frozen=True)
class Candidate:
    """One entry of a drop folder: a ZIP file or an unpacked package folder."""

    name: str
    is_dir: bool
    modified: float  # seconds since the epoch; for a folder, its newest file


@dataclass(frozen=True)
class Choice:
    """What a drop folder offers now: the package to use, and what is still settling."""

    chosen: Candidate | None
    settling: tuple[Candidate, ...]


def is_ignored(name: str) -> bool:
    """Given a folder entry's name, return whether it can never be a published package."""
    return name.startswith(".") or name.endswith(_INCOMPLETE_SUFFIXES)


def is_candidate(name: str, *, is_dir: bool) -> bool:
    """Given a folder entry, return whether it could be a published package."""
    return not is_ignored(name) and (is_dir or name.lower().endswith(".zip"))


def choose_package(candidates: Iterable[Candidate], now: float, settle: timedelta) -> Choice:
    """Given a drop folder's candidates, the time and the settle period, return the newest one
    unchanged for at least `settle`, and the newer ones still being written.

    Ties on time are broken by name so that the choice never depends on listing order.
    """
    ordered = sorted(candidates, key=lambda item: (item.modified, item.name), reverse=True)
    settle_seconds = settle.total_seconds()
    settling: list[Candidate] = []
    for candidate in ordered:
        if now - candidate.modified >= settle_seconds:
            return Choice(chosen=candidate, settling=tuple(settling))
        settling.append(candidate)
    return Choice(chosen=None, settling=tuple(settling))
