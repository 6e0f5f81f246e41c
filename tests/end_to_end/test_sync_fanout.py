"""Fan-out through the real CLI: at most `daemon.concurrency` pushes at once across orgs, and
never two pushes to one connector, even from two sfsync processes.

The emulator's request handler is wrapped to count the Tooling requests it is answering at
each moment, overall and per org; each org delays its Tooling answers so pushes overlap.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from sfsync.config.schema import SalesforceSettings
from sfsync_emulator import Emulator
from sfsync_emulator.app import EmulatorApp
from tests.fixtures.sync_support import HeldRequests, SyncSite, sync_site

pytestmark = pytest.mark.slow

TOOLING = f"/services/data/v{SalesforceSettings().api_version}/tooling/"
ENVIRONMENTS = ("alpha", "beta", "gamma", "delta", "epsilon")
# Each CLI process refreshes every connector's token first, about a second of cryptfile key
# derivation each: pushes must last longer than that to overlap at all.
LATENCY_SECONDS = 1.5


class InFlight:
    """The most Tooling requests the emulator was answering at once, overall and per org."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now: Counter[str] = Counter()
        self.most = 0
        self.most_per_org: Counter[str] = Counter()

    def enter(self, org: str) -> None:
        with self._lock:
            self._now[org] += 1
            self.most = max(self.most, sum(self._now.values()))
            self.most_per_org[org] = max(self.most_per_org[org], self._now[org])

    def leave(self, org: str) -> None:
        with self._lock:
            self._now[org] -= 1


@pytest.fixture
def in_flight(monkeypatch: pytest.MonkeyPatch) -> InFlight:
    """Count the Tooling requests every emulated org is answering (undone by monkeypatch)."""
    counter = InFlight()
    answer = EmulatorApp._answer

    def counting(
        app: EmulatorApp, request: Any, environ: dict[str, Any], start_response: Any
    ) -> Iterable[bytes]:
        org = app.ctx.org.org_id if app.ctx.org is not None else ""
        if not request.path.startswith(TOOLING):
            return answer(app, request, environ, start_response)
        counter.enter(org)
        try:
            return answer(app, request, environ, start_response)
        finally:
            counter.leave(org)

    monkeypatch.setattr(EmulatorApp, "_answer", counting)
    return counter


def site_of(
    tmp_path: Path,
    emu: Emulator,
    environments: Iterable[str],
    concurrency: int,
    secret_service_here: dict[str, str],
) -> SyncSite:
    """Return an authorized site, one slow org per environment, pushing `concurrency` at once."""
    orgs = {name: emu.add_org(name=name) for name in environments}
    site = sync_site(tmp_path, emu, orgs, {}, secret_service_here)
    config = site.site.config
    config.write_text(config.read_text().replace("concurrency = 4", f"concurrency = {concurrency}"))
    for name, org in orgs.items():
        site.authorize(name)
        org.faults.latency(LATENCY_SECONDS, api="tooling")
    return site


def test_pushes_run_concurrently_up_to_the_bound(
    tmp_path: Path, emu: Emulator, in_flight: InFlight, secret_service_here: dict[str, str]
) -> None:
    """Five orgs, concurrency 2: two pushes overlap, never three, never two on one org."""
    site = site_of(
        tmp_path, emu, ENVIRONMENTS, concurrency=2, secret_service_here=secret_service_here
    )
    site.publish(1)
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert all(site.live_sha256(name) is not None for name in ENVIRONMENTS), out
    assert in_flight.most == 2, in_flight.most
    assert set(in_flight.most_per_org.values()) == {1}, in_flight.most_per_org


def test_a_second_process_waits_for_a_connector_being_pushed(
    tmp_path: Path,
    emu: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    secret_service_here: dict[str, str],
) -> None:
    """While one `sfsync sync` waits on its PATCH, another waits for the connector instead of
    failing `busy`, then finds the build live (unchanged): both exit 0, the org got exactly one
    PATCH.
    """
    site = site_of(
        tmp_path, emu, ("alpha",), concurrency=4, secret_service_here=secret_service_here
    )
    org = site.orgs["alpha"]
    site.publish(1)
    assert site.run("sync")[0] == 0
    held = HeldRequests.watch(emu, monkeypatch)
    org.faults.hang_next(1, seconds=4.0, api="tooling", path_prefix=f"{TOOLING}sobjects/")
    site.publish(2)
    first = site.site.start("sync")
    try:
        held.wait(timeout=60)
        code, out, err = site.run("sync")
    finally:
        first_out, first_err = site.site.finish(first)
    assert code == 0, out + err
    line = next(line for line in out.splitlines() if line.startswith("lightning/alpha"))
    assert "unchanged" in line, out
    assert first.returncode == 0, first_out + first_err
    assert "pushed" in first_out, first_out
    assert org.count(api="tooling", method="PATCH") == 1


def test_a_connector_that_stays_busy_fails_after_the_timeout(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """A connector whose push lock another process never lets go of is reported `busy`
    (exit 1) once `[salesforce] timeout` (10 s here) has passed, and nothing is written.
    """
    site = site_of(
        tmp_path, emu, ("alpha",), concurrency=4, secret_service_here=secret_service_here
    )
    org = site.orgs["alpha"]
    site.publish(1)
    assert site.run("sync")[0] == 0
    site.publish(2)
    lock = FileLock(str(site.site.state_dir / "locks" / "lightning" / "alpha.push.lock"))
    started = time.monotonic()
    with lock:
        code, out, err = site.run("sync")
    assert code == 1, out + err
    assert time.monotonic() - started >= 10, "it must wait [salesforce] timeout first"
    line = next(line for line in out.splitlines() if line.startswith("lightning/alpha"))
    assert "busy" in line, out
    assert org.count(method="PATCH") == 0
