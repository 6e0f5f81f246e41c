"""Property tests are pure: sockets are disabled as in the unit tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_sockets() -> Iterator[None]:
    """Refuse any socket a property test opens."""
    disable_socket(allow_unix_socket=False)
    yield
    enable_socket()
