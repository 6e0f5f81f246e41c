"""Fixtures for the session's integration tests: the emulator and a real Secret Service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.secret_service import secret_service, secret_service_available


@pytest.fixture
def secret_service_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A real Secret Service on a private bus, reachable from this process."""
    if not secret_service_available():
        pytest.fail("gnome-keyring-daemon / dbus-daemon missing: run `make system-deps`")
    with secret_service(tmp_path / "home", tmp_path / "run") as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield env
