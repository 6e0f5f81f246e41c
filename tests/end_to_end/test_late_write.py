"""A write that got no answer can still land in the org after a newer push (SPEC section 9:
a restart converges). The emulator holds a PATCH past the client's timeout and applies it
later, as an org does with a request whose caller gave up; meanwhile a newer build is pushed.
The org then serves the older build while the state store says the newer one is live.

sfsync must notice without anything new being published: the connector stays "in doubt" until
the held write can no longer land (twice the timeout plus a margin after it was given up), and
the next cycle after that reads the org's body once and pushes the live build again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sfsync_emulator import Emulator
from tests.fixtures.sync_support import DEPLOY, STATIC_RESOURCE, SyncSite, sync_site
from tests.fixtures.wait import wait_until

# Its windows (a 2 s timeout, a 10 s hold) are tighter than a CLI start on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.alone]

TOOLING = f"{STATIC_RESOURCE}/"  # requests on an existing resource (PATCH, Body), not the create
CONNECTOR = "lightning/sandbox"
TIMEOUT_SECONDS = 2.0  # so a write given up on may land for 2 x 2 + 10 = 14 s
HELD_SECONDS = 10.0  # past the timeout, past the next sync's PATCH, within the doubt
# A deploy runs this long in the org: a deploy queued by a held request ends well after the
# 14 s that a Tooling write is given, but within the deploy patience added for Metadata.
DEPLOY_SECONDS = 8.0
PATIENCE_SECONDS = 20.0


def pushes(site: SyncSite, connector: str = CONNECTOR) -> list[tuple[str, str]]:
    """Return the connector's push history, oldest first, as (outcome, sha256)."""
    with closing(sqlite3.connect(site.site.state_dir / "state.sqlite3")) as database:
        rows = database.execute(
            "SELECT outcome, sha256 FROM pushes WHERE connector = ? ORDER BY id", (connector,)
        )
        return [(outcome, sha256) for outcome, sha256 in rows]


def recheck_after(site: SyncSite, connector: str = CONNECTOR) -> datetime | None:
    """Return when the store says the connector's org is to be checked, or None."""
    with closing(sqlite3.connect(site.site.state_dir / "state.sqlite3")) as database:
        (value,) = database.execute(
            "SELECT recheck_after FROM connectors WHERE connector = ?", (connector,)
        ).fetchone()
    return datetime.fromisoformat(value) if value else None


def sleep_until(due: datetime) -> None:
    """Sleep until a moment has passed (and a little more)."""
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.2)


def publish(site: SyncSite, version: int) -> None:
    """Publish a package and wait until the dir source takes it (`SyncSite.publish` may date it
    a millisecond ahead, to be newer than the publish before it).
    """
    site.publish(version)
    stamp = site.published[-1].stat().st_mtime
    time.sleep(max(0.0, stamp - time.time()) + 0.05)


def assert_late_write_undone(site: SyncSite, environment: str, late: str, newest: str) -> None:
    """Run the first sync after the doubt window: it finds the late write's build (`late`) live,
    says so, pushes `newest` again, and clears the doubt.
    """
    connector = f"lightning/{environment}"
    code, out, err = site.run("sync")
    assert code == 0, out + err
    line = next(line for line in out.splitlines() if line.startswith(connector))
    assert "pushed" in line, out
    assert f"served {late[:12]}" in line, out
    assert site.live_sha256(environment) == newest
    assert pushes(site, connector)[-1] == ("pushed", newest)
    assert recheck_after(site, connector) is None


@pytest.fixture
def site(tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]) -> SyncSite:
    """One Tooling connector with a short timeout, v1 live."""
    site = sync_site(
        tmp_path, emu, {"sandbox": emu.add_org(name="sandbox")}, {}, secret_service_here
    )
    config = site.site.config
    config.write_text(
        config.read_text().replace('timeout = "10s"', f'timeout = "{TIMEOUT_SECONDS:.0f}s"')
    )
    site.authorize("sandbox")
    publish(site, 1)
    code, out, err = site.run("sync")
    assert code == 0, out + err
    return site


def test_a_late_write_over_a_newer_push_is_found_and_undone(site: SyncSite) -> None:
    """v2's PATCH is held past the timeout (then a 400 ends that push); v3 is pushed; the held
    v2 lands after it. The next sync once the doubt has passed reads the body (one GET), finds
    v2, pushes v3 again; the one after costs nothing.
    """
    org = site.orgs["sandbox"]
    org.faults.hang_next(1, seconds=HELD_SECONDS, api="tooling", path_prefix=TOOLING)
    org.faults.fail_next(1, status=400, api="tooling", path_prefix=TOOLING)
    publish(site, 2)
    code, out, err = site.run("sync")
    assert code == 1, out + err
    (_, v1), (failed, v2) = pushes(site)
    assert failed == "failed"
    publish(site, 3)
    code, out, err = site.run("sync")
    assert code == 0, out + err
    v3 = pushes(site)[-1][1]
    assert pushes(site)[-1] == ("pushed", v3)
    assert len({v1, v2, v3}) == 3, (pushes(site), out)
    # The held write lands after the newer push: the org goes back to v2.
    wait_until(lambda: site.live_sha256("sandbox") == v2, 3 * HELD_SECONDS, "the late v2 write")
    due = recheck_after(site)
    assert due is not None, "a write that got no answer must leave the connector in doubt"
    code, out, err = site.run("status", "--json")
    assert code == 0, out + err
    (row,) = json.loads(out)["connectors"]
    assert row["recheck_after"] == due.isoformat()
    sleep_until(due)
    calls = site.api_calls("sandbox")
    assert_late_write_undone(site, "sandbox", v2, v3)
    # The body read, then the PATCH (the session refresh of a new CLI process is not an API
    # call the org counts here).
    assert site.api_calls("sandbox") - calls == 2
    calls = site.api_calls("sandbox")
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert site.api_calls("sandbox") == calls


def test_a_doubt_that_finds_the_live_build_costs_one_read(site: SyncSite) -> None:
    """A timed-out write of the same build that lands late changes nothing: the check after the
    doubt finds the live build, clears the doubt, and pushes nothing.
    """
    org = site.orgs["sandbox"]
    org.faults.hang_next(1, seconds=TIMEOUT_SECONDS + 2, api="tooling", path_prefix=TOOLING)
    publish(site, 2)
    code, out, err = site.run("sync")  # the retry pushes v2; the held attempt lands later
    assert code == 0, out + err
    v2 = pushes(site)[-1][1]
    wait_until(lambda: site.live_sha256("sandbox") == v2, 10, "v2")
    due = recheck_after(site)
    assert due is not None
    sleep_until(due)
    calls = site.api_calls("sandbox")
    history = pushes(site)
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert "checked in the org" in out, out
    assert site.api_calls("sandbox") - calls == 1
    assert pushes(site) == history
    assert recheck_after(site) is None


def test_a_deploy_queued_by_a_lost_request_is_covered_by_the_doubt(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """A deploy request held past the timeout queues its deploy only when the hold ends, behind
    the newer build's deploy, and the org runs it for a while after that: the older build lands
    later than a Tooling write could. The Metadata connector's doubt lasts the deploy patience
    longer, so the check after it finds the late build and deploys the live one again.
    """
    connector = "lightning/staging"
    org = emu.add_org(name="staging")
    site = sync_site(
        tmp_path, emu, {"staging": org}, {"staging": 'api = "metadata"'}, secret_service_here
    )
    config = site.site.config
    config.write_text(
        config.read_text().replace(
            'timeout = "10s"',
            f'timeout = "{TIMEOUT_SECONDS:.0f}s"\ndeploy_patience = "{PATIENCE_SECONDS:.0f}s"',
        )
    )
    site.authorize("staging")
    publish(site, 1)
    code, out, err = site.run("sync")
    assert code == 0, out + err
    org.deploy_seconds = DEPLOY_SECONDS
    org.faults.hang_next(1, seconds=HELD_SECONDS, api="metadata", path_prefix=DEPLOY)
    org.faults.fail_next(1, status=400, api="metadata", path_prefix=DEPLOY)
    publish(site, 2)
    code, out, err = site.run("sync")
    assert code == 1, out + err
    given_up = datetime.now(UTC)
    (_, v1), (failed, v2) = pushes(site, connector)
    assert failed == "failed"
    publish(site, 3)
    code, out, err = site.run("sync")
    assert code == 0, out + err
    v3 = pushes(site, connector)[-1][1]
    assert pushes(site, connector)[-1] == ("pushed", v3)
    assert len({v1, v2, v3}) == 3, (pushes(site, connector), out)
    # The held request's deploy runs after v3's and the org goes back to v2, later than the
    # 14 s a Tooling write may still land after it was given up.
    wait_until(lambda: site.live_sha256("staging") == v2, 4 * HELD_SECONDS, "the late v2 deploy")
    landed = datetime.now(UTC)
    assert (landed - given_up).total_seconds() > 2 * TIMEOUT_SECONDS + 10
    due = recheck_after(site, connector)
    assert due is not None
    assert due > landed, (due, landed)
    org.deploy_seconds = 0.3
    sleep_until(due)
    assert_late_write_undone(site, "staging", v2, v3)
