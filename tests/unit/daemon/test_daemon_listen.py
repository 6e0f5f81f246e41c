"""Splitting the `metrics_listen` setting into the host and port the endpoint binds."""

from __future__ import annotations

import pytest

from sfsync.daemon.endpoint import split_listen


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [
        ("127.0.0.1:9464", "127.0.0.1", 9464),
        ("[::1]:9464", "::1", 9464),
        ("[::]:9464", "::", 9464),
        ("localhost:1", "localhost", 1),
        ("[2001:db8::1]:65535", "2001:db8::1", 65535),
        ("metrics.internal.example:9100", "metrics.internal.example", 9100),
    ],
)
def test_split_listen(listen: str, host: str, port: int) -> None:
    """HOST:PORT splits at the last colon; an IPv6 host loses its brackets."""
    assert split_listen(listen) == (host, port)
