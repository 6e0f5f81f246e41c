"""The one place that reads the wall clock; everything else takes `now` as an argument."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utc_now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def epoch_seconds() -> float:
    """Return the current time as seconds since the epoch (comparable to file mtimes)."""
    return time.time()
