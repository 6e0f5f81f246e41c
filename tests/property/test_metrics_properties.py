"""The connector series' own text exposition writes every value as prometheus_client does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.utils import floatToGoString

from sfsync.daemon.connector_series import _go


@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_a_value_is_written_as_prometheus_client_writes_it(value: float) -> None:
    """Any float, timestamps and Go's exponent form included, gives floatToGoString's text."""
    assert _go(value) == floatToGoString(value)


@given(value=st.floats(min_value=1e6, max_value=1e13))
def test_timestamps_and_sizes_are_written_as_prometheus_client_writes_them(value: float) -> None:
    """The range the exposition's timestamps and package sizes fall in, searched on its own."""
    assert _go(value) == floatToGoString(value)
