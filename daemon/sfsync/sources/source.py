"""What every kind of source answers when looked at: the package it offers now, a signature that
changes when that does, and how long to wait for a publish still settling.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sfsync.errors import NothingPublishedError


@dataclass(frozen=True)
class Package:
    """A complete published package on disk."""

    path: Path
    # The source's own version (an http source's ETag); None: the build derives one from the
    # bytes, as for a drop folder.
    version: str | None = None


@dataclass(frozen=True)
class Look:
    """What a source offers at one moment."""

    package: Package | None  # the newest complete package; None while the only ones settle
    signature: Hashable  # equal between two looks when the source offers the same package
    # A newer publish is still being written: look again in this many seconds (the daemon
    # waits for it rather than push the older one). None: nothing is settling.
    settle_wait: float | None = None
    # Why there is no package, for the error `ready` raises.
    waiting_for: str = ""

    def ready(self) -> Package:
        """Return the package offered; raise NothingPublishedError if only a settling one is."""
        if self.package is None:
            raise NothingPublishedError(self.waiting_for)
        return self.package


class Source(Protocol):
    """One system's source: a drop folder or a URL."""

    def look(self, now: float) -> Look:
        """Given the time (epoch seconds), return what the source offers now.

        Raise NothingPublishedError if it offers nothing and nothing is settling, SourceError
        if it cannot be read.
        """
        ...
