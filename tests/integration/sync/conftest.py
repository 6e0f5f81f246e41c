"""Fixtures for the cycle's and the daemon check's in-process tests (see `sync_site.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sfsync_emulator import Emulator
from tests.fixtures.in_process import drop_ca_bundle_env, emulator_for
from tests.integration.sync.sync_site import CLIENT, Daemon, Site, daemon_checks, write_site


@pytest.fixture(autouse=True)
def _no_ca_bundle_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a host's REQUESTS_CA_BUNDLE from overriding the configured CA."""
    drop_ca_bundle_env(monkeypatch)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A running emulator with sfsync's client registered."""
    with emulator_for(CLIENT) as emulator:
        yield emulator


@pytest.fixture
def site(tmp_path: Path, emu: Emulator) -> Site:
    """Two connectors whose drop folder settles at once."""
    return write_site(tmp_path, emu, settle="0s")


@pytest.fixture
def daemon(site: Site) -> Iterator[Daemon]:
    """The daemon's checks of the site, without a scheduler."""
    with daemon_checks(site) as checks:
        yield checks
