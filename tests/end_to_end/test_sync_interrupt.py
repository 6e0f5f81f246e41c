"""Ctrl-C during `sfsync sync`: the real CLI, one org answering and one holding its request;
SIGINT prints what finished, marks the rest interrupted and exits 130.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from sfsync_emulator import Emulator
from tests.fixtures.sync_support import HeldRequests, SyncSite, sync_site
from tests.fixtures.wait import wait_until

pytestmark = pytest.mark.slow

HOLD_SECONDS = 600.0  # past the test: the held request is released at teardown only


@pytest.fixture
def two_orgs(tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]) -> SyncSite:
    """Sandbox and production, not gated on each other, both authorized."""
    orgs = {"sandbox": emu.add_org(name="sandbox"), "production": emu.add_org(name="production")}
    site = sync_site(tmp_path, emu, orgs, {}, secret_service_here)
    site.authorize("sandbox")
    site.authorize("production")
    return site


def test_sigint_prints_what_finished_and_exits_130(
    two_orgs: SyncSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With production's first request held, SIGINT once sandbox is live: exit 130, sandbox
    `pushed` and production `interrupted` in the table, one `sfsync: interrupted` line and no
    traceback; the next sync pushes production.
    """
    held = HeldRequests.watch(two_orgs.emu, monkeypatch)
    two_orgs.orgs["production"].faults.hang_next(1, seconds=HOLD_SECONDS)
    two_orgs.publish(1)
    process = two_orgs.site.start("sync")
    held.wait()
    wait_until(lambda: two_orgs.live_sha256("sandbox"), 60, "sandbox to be live")
    time.sleep(1.0)  # for sandbox's push to return its result to the cycle
    assert process.poll() is None, "sync ended before the interrupt"
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = two_orgs.site.finish(process, timeout=30)
    assert time.monotonic() - started < 10, "an interrupt must not wait for the held request"
    assert process.returncode == 130, out + err
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:] if line.strip()}
    assert rows == {"lightning/sandbox": "pushed", "lightning/production": "interrupted"}, out
    assert err.splitlines() == ["sfsync: interrupted"], err
    assert "Traceback" not in out + err
    assert two_orgs.live_sha256("production") is None
    code, out, err = two_orgs.run("sync")
    assert code == 0, out + err
    assert two_orgs.live_sha256("production") is not None
