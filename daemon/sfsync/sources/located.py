"""What a source check hands the build: where the package is, and its version if the source
names one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Located:
    """A complete published package on disk."""

    path: Path
    # The source's own version (an http source's ETag); None: the build derives one from the
    # bytes, as for a drop folder.
    version: str | None = None
