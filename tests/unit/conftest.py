"""Unit tests run with sockets disabled: they may not touch the network, even loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_sockets() -> Iterator[None]:
    """Refuse any socket a unit test opens."""
    disable_socket(allow_unix_socket=False)
    yield
    enable_socket()
