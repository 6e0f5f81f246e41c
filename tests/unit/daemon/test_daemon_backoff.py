"""The retry delay after failed cycles: exponential from 5 s, capped at 600 s, equal jitter."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfsync.daemon.backoff import FIRST_RETRY_SECONDS, LONGEST_RETRY_SECONDS, retry_delay

# A long run of failures (the exponent is capped before use, so any count is safe).
SURVIVABLE_FAILURES = 1024

DRAWS = st.floats(min_value=0.0, max_value=1.0, exclude_max=True, allow_nan=False)


def ceiling_for(failures: int) -> float:
    """Return the expected ceiling, computed with integers so the oracle cannot overflow."""
    return float(
        min(int(LONGEST_RETRY_SECONDS), int(FIRST_RETRY_SECONDS) * 2 ** max(0, failures - 1))
    )


@pytest.mark.parametrize(
    ("failures", "ceiling"),
    [
        (0, 5.0),
        (1, 5.0),
        (2, 10.0),
        (3, 20.0),
        (4, 40.0),
        (5, 80.0),
        (6, 160.0),
        (7, 320.0),
        (8, 600.0),  # 640 capped
        (9, 600.0),
        (50, 600.0),
        (SURVIVABLE_FAILURES, 600.0),
    ],
)
def test_delay_spans_half_ceiling_to_ceiling(failures: int, ceiling: float) -> None:
    """A draw of 0 waits half the ceiling, 0.5 three quarters, and a draw just under 1 (about)
    the ceiling, which doubles per failure up to LONGEST_RETRY_SECONDS.
    """
    assert ceiling_for(failures) == ceiling
    assert retry_delay(failures, 0.0) == ceiling / 2
    assert retry_delay(failures, 0.5) == ceiling * 3 / 4
    highest = retry_delay(failures, math.nextafter(1.0, 0.0))
    assert ceiling * (1 - 1e-9) < highest <= ceiling


def test_longest_retry_is_ten_minutes() -> None:
    """The cap the SPEC's retry behaviour relies on is 600 s and the first retry's ceiling 5 s."""
    assert LONGEST_RETRY_SECONDS == 600.0
    assert FIRST_RETRY_SECONDS == 5.0


@pytest.mark.parametrize("failures", [SURVIVABLE_FAILURES + 1, 10_000])
def test_delay_after_very_long_outage_stays_capped(failures: int) -> None:
    """However many cycles have failed, the delay stays within [300, 600] seconds."""
    delay = retry_delay(failures, 0.5)
    assert LONGEST_RETRY_SECONDS / 2 <= delay <= LONGEST_RETRY_SECONDS


@given(failures=st.integers(min_value=0, max_value=SURVIVABLE_FAILURES), draw=DRAWS)
def test_delay_is_within_bounds(failures: int, draw: float) -> None:
    """For every failure count and draw, ceiling/2 <= delay <= ceiling <= LONGEST_RETRY_SECONDS."""
    ceiling = ceiling_for(failures)
    delay = retry_delay(failures, draw)
    assert ceiling / 2 <= delay <= ceiling <= LONGEST_RETRY_SECONDS


@given(
    fewer=st.integers(min_value=0, max_value=SURVIVABLE_FAILURES),
    more=st.integers(min_value=0, max_value=SURVIVABLE_FAILURES),
    draw=DRAWS,
)
def test_delay_never_shrinks_with_more_failures(fewer: int, more: int, draw: float) -> None:
    """With the same draw, more failures in a row never give a shorter delay."""
    fewer, more = sorted((fewer, more))
    assert retry_delay(fewer, draw) <= retry_delay(more, draw)
