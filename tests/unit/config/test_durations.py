"""Durations as the config writes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfsync.config.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
        ("1.5s", timedelta(milliseconds=1500)),
        ("0s", timedelta(0)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    """Each unit and combinations of them parse to the right length."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "s", "5 m", "5min", "-1s", "1h 30m", "P1D"])
def test_parse_refuses(text: str) -> None:
    """Anything but number+unit sequences is refused with the accepted forms named."""
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**10))
def test_format_round_trips(milliseconds: int) -> None:
    """Formatting a duration and parsing it back gives the same duration."""
    value = timedelta(milliseconds=milliseconds)
    assert parse_duration(format_duration(value)) == value
