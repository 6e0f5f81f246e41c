"""The wall clock, as the production default of every `clock=` / `now` seam: logic takes the
time as an argument, so that tests can set it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utc_now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def epoch_seconds() -> float:
    """Return the current time as seconds since the epoch (comparable to file mtimes)."""
    return time.time()
