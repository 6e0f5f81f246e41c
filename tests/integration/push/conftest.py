"""Fixtures for the Pusher's in-process tier: the emulator over HTTPS and a push site."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.in_process import drop_ca_bundle_env, emulator_for
from tests.integration.push.push_site import CLIENT_ID, PushSite


@pytest.fixture(autouse=True)
def _no_ca_bundle_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a host's REQUESTS_CA_BUNDLE from overriding `session.verify`."""
    drop_ca_bundle_env(monkeypatch)


@pytest.fixture(scope="session")
def emu() -> Iterator[Emulator]:
    """A running emulator with the tier's client registered, shared by the tier's tests (each
    has its own org, and faults are armed per org); stopped at the end.
    """
    with emulator_for(CLIENT_ID) as emulator:
        yield emulator


@pytest.fixture
def org(emu: Emulator) -> OrgHandle:
    """A new org of its own for the test, whose deploys end at once."""
    return emu.add_org(deploy_seconds=0.0)


@pytest.fixture
def make_site(emu: Emulator, org: OrgHandle, tmp_path: Path) -> Iterator[Callable[..., PushSite]]:
    """Make the push site with the given settings (see PushSite); its store is closed after."""
    sites: list[PushSite] = []

    def make(**settings: Any) -> PushSite:
        site = PushSite(emu, org, tmp_path / "state", **settings)
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.store.close()


@pytest.fixture
def site(make_site: Callable[..., PushSite]) -> PushSite:
    """A Tooling connector with default settings."""
    return make_site()
