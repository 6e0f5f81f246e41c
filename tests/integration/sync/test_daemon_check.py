"""The daemon's check of one system, in-process without a scheduler: look at the source once,
run the cycle for what is due, and schedule the next check (against two emulated orgs).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from sfsync.errors import TokenStoreError
from sfsync.sync.cycle import ConnectorResult
from sfsync.sync.result import Result
from sfsync.tokens.record import StoredAuthorization
from sfsync_emulator import Emulator
from tests.integration.sync.sync_site import Daemon, Site, daemon_checks, served_text, write_site


def outcomes(results: list[ConnectorResult]) -> dict[str, Result]:
    """Given connector results, return each connector's outcome."""
    return {result.connector: result.outcome for result in results}


def test_a_publish_reaches_both_orgs(site: Site, daemon: Daemon) -> None:
    """A check that finds a new package pushes it to both orgs and schedules nothing."""
    site.publish("walkme-1.zip", "release 1")
    assert outcomes(daemon.check()) == {
        "lightning/one": Result.PUSHED,
        "lightning/two": Result.PUSHED,
    }
    assert [served_text(org) for org in site.orgs.values()] == ["release 1", "release 1"]
    assert daemon.scheduled == []


def test_an_unchanged_look_spends_no_api_call(site: Site, daemon: Daemon) -> None:
    """A second check of an unchanged folder runs no cycle and sends no request to any org."""
    site.publish("walkme-1.zip", "release 1")
    daemon.check()
    before = site.requests_made()
    site.clock.advance(60)
    assert daemon.check() == []
    assert site.requests_made() == before


def test_a_failure_is_isolated_and_retried_after_its_backoff(site: Site, daemon: Daemon) -> None:
    """A connector whose org fails is retried alone once its backoff is over, not before; the
    other connector is not asked again.
    """
    site.publish("walkme-1.zip", "release 1")
    failing = site.orgs["lightning/two"]
    failing.faults.fail_next(100, status=503, api="tooling")
    assert outcomes(daemon.check()) == {
        "lightning/one": Result.PUSHED,
        "lightning/two": Result.FAILED,
    }
    [backoff] = daemon.scheduled
    assert backoff > 0
    failing.faults.clear()
    before = site.requests_made()

    site.clock.advance(backoff / 2)
    assert daemon.check() == [], "nothing is due before the backoff is over"
    assert site.requests_made() == before

    site.clock.advance(backoff)
    assert outcomes(daemon.check()) == {"lightning/two": Result.PUSHED}
    assert served_text(failing) == "release 1"
    assert site.requests_made()["lightning/one"] == before["lightning/one"]


def test_a_settling_publish_is_waited_for(tmp_path: Path, emu: Emulator) -> None:
    """While a newer package settles, the check pushes nothing (not even the older settled
    one) and asks to look again when it has settled; then the newer one is pushed.
    """
    site = write_site(tmp_path, emu, settle="30s")
    site.publish("walkme-1.zip", "release 1", age=3600)
    site.publish("walkme-2.zip", "release 2", age=10)
    with daemon_checks(site) as daemon:
        assert daemon.check() == []
        assert daemon.scheduled == [20.0]
        site.clock.advance(20)
        assert {result.outcome for result in daemon.check()} == {Result.PUSHED}
    assert [served_text(org) for org in site.orgs.values()] == ["release 2", "release 2"]


def open_connections(session: requests.Session) -> int:
    """Given a session, return how many connections its pools keep open."""
    return sum(
        1
        for adapter in session.adapters.values()
        if isinstance(adapter, HTTPAdapter)
        # The pools' container cannot be iterated; its keys() is a copy.
        for key in adapter.poolmanager.pools.keys()  # noqa: SIM118
        for conn in list(adapter.poolmanager.pools[key].pool.queue)
        if conn is not None and conn.sock is not None
    )


def test_a_check_closes_the_connections_its_cycle_opened(site: Site, daemon: Daemon) -> None:
    """Once its cycle is over, a check keeps no connection to the orgs open (the next publish
    may be hours away); the next cycle opens them again and pushes.
    """
    connector = site.loaded.connectors[0]
    http = daemon.runtime.deps.session_for(connector)._http
    site.publish("walkme-1.zip", "release 1")
    assert outcomes(daemon.check()) == {
        "lightning/one": Result.PUSHED,
        "lightning/two": Result.PUSHED,
    }
    assert open_connections(http) == 0
    # What was closed is what a request keeps: one to an org is kept open and counted.
    http.get(site.orgs[connector.name].instance_url + "/services/data/", timeout=10)
    assert open_connections(http) == 1
    site.publish("walkme-2.zip", "release 2")
    assert {result.outcome for result in daemon.check()} == {Result.PUSHED}
    assert [served_text(org) for org in site.orgs.values()] == ["release 2", "release 2"]
    assert open_connections(http) == 0


def test_the_keyring_pass_runs_while_the_package_is_read(
    site: Site, daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that found a new package starts the keyring pass in a thread of its own while
    the package is read; a pass that fails there is made again by the cycle, which pushes.
    """
    store = daemon.runtime.deps.tokens
    read = store.get_many
    passes: list[str] = []

    def flaky(connectors: Collection[str]) -> Mapping[str, StoredAuthorization | None]:
        passes.append(threading.current_thread().name)
        if len(passes) == 1:
            raise TokenStoreError("keyring busy")
        return read(connectors)

    monkeypatch.setattr(store, "get_many", flaky)
    site.publish("walkme-1.zip", "release 1")
    assert outcomes(daemon.check()) == {
        "lightning/one": Result.PUSHED,
        "lightning/two": Result.PUSHED,
    }
    assert passes == ["tokens", threading.current_thread().name]
