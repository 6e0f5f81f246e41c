"""Crash safety of `sfsync sync` (SPEC section 9): the real CLI is SIGKILLed at each step of a
push, and the next normal run must converge: the org serves the build sfsync reports live, the
push history has a final outcome on every row, and a further run costs no request at all.

How a kill lands on a step: the emulator's `hang_next` holds a matching request *before* it is
applied, and the emulator logs a request only once it has answered it, so the request log cannot
tell that a held request has arrived. `HeldRequests` wraps the fault book's `decide` (which the
emulator calls as each request arrives) to tell the test; the test then checks that the CLI is
still running and kills it. Every case also checks that sfsync had recorded nothing of the
push's end at the kill (its row is still 'started'), so a kill that came too late fails the case
instead of passing it vacuously.

A request held for HOLD_SECONDS stays unapplied for the whole case (the emulator releases it
at teardown): the org never got it. The *-answer-lost cases hold it for RELEASE_SECONDS instead
and wait, after the kill, until the org has applied it: the org has the change and sfsync never
heard back, which is the same state for sfsync as an answer received just before the kill.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.sync_support import (
    DEPLOY,
    STATIC_RESOURCE,
    HeldRequests,
    SyncSite,
    sync_killed_while_held,
    sync_site,
)
from tests.fixtures.wait import wait_until

pytestmark = pytest.mark.slow

CONNECTOR = "lightning/sandbox"
HOLD_SECONDS = 600.0  # past pytest's timeout: a held request is released at teardown only
RELEASE_SECONDS = 4.0  # long enough for the kill to land first, short enough to wait for
ANSWER_LOST_BODY_SECONDS = 0.5  # for a held request's body to follow its headers
DEPLOY_SECONDS = 0.2  # a deploy that finishes while sfsync polls
RUNNING_DEPLOY_SECONDS = 3600.0  # a deploy that runs until the test shortens it
WAIT_SECONDS = 60.0


@pytest.fixture
def held(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> HeldRequests:
    """The emulator's held requests, as they arrive."""
    return HeldRequests.watch(emu, monkeypatch)


@dataclass(frozen=True)
class CrashPoint:
    """One step of a push to kill sfsync at, and what the org and the history must show."""

    step: str
    hold: str  # the path prefix of the request held when the kill lands
    api: str = "tooling"
    prior_push: bool = False  # an earlier build is live: the killed run pushes over it
    answer_lost: bool = False  # the org applies the held request after the kill
    deploy_running: bool = False  # metadata: the deploy still runs when the kill lands
    org_before_rerun: str = "nothing"  # what the org serves then: "nothing", "old" or "new"
    outcomes: tuple[str, ...] = ("abandoned", "pushed")  # the pushes table at the end
    deploys: int = 0  # metadata: deploys started in all (0: not counted)

    def environment_toml(self) -> str:
        """Return the sandbox environment's settings."""
        return f'api = "{self.api}"'


# Each step's logic is also checked in this process, without a kill (the process "dies" at
# the org's answer to a call), by tests/integration/push/test_pusher_crash.py: the first query,
# the create's and the PATCH's answer, the body read back, the deploy request's answer, a deploy
# ended (polled or verifying) and a deploy still running. The SIGKILLs kept here prove what
# only a real process death can, for each API: a request in flight when the process dies and
# the org never gets it, one the org applies after the process died, and a running deploy
# that a new process finds with its push still 'started'.
CRASH_POINTS = (
    CrashPoint(
        "tooling-patch",
        hold=f"{STATIC_RESOURCE}/",
        prior_push=True,
        org_before_rerun="old",
        outcomes=("pushed", "abandoned", "pushed"),
    ),
    CrashPoint(
        "tooling-patch-answer-lost",
        hold=f"{STATIC_RESOURCE}/",
        prior_push=True,
        answer_lost=True,
        org_before_rerun="new",
        outcomes=("pushed", "abandoned", "pushed"),
    ),
    CrashPoint("metadata-deploy-post", hold=DEPLOY, api="metadata", deploys=1),
    # The deploy was accepted and its id recorded; it still runs when the next run starts.
    CrashPoint(
        "metadata-poll-deploy-running",
        hold=f"{DEPLOY}/",
        api="metadata",
        deploy_running=True,
        outcomes=("pushed",),
        deploys=1,
    ),
)


def state_rows(site: SyncSite) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return the pushes table (oldest first) and the connector's row, read with SQLite."""
    with closing(sqlite3.connect(site.site.state_dir / "state.sqlite3")) as database:
        database.row_factory = sqlite3.Row
        pushes = [dict(row) for row in database.execute("SELECT * FROM pushes ORDER BY id")]
        row = database.execute(
            "SELECT * FROM connectors WHERE connector = ?", (CONNECTOR,)
        ).fetchone()
    return pushes, dict(row) if row else {}


def built_sha256(site: SyncSite, tmp_path: Path) -> str:
    """Return the SHA-256 of what `sfsync build` makes for the connector now."""
    output = tmp_path / "expected.zip"
    code, out, err = site.run("build", "--connector", CONNECTOR, "-o", str(output))
    assert code == 0, out + err
    return hashlib.sha256(output.read_bytes()).hexdigest()


def org_serves(site: SyncSite, what: str, old: str | None, new: str) -> None:
    """Assert that the org serves nothing, the old build or the new one."""
    expected = {"nothing": None, "old": old, "new": new}[what]
    assert site.live_sha256("sandbox") == expected, f"the org should serve {what}"


def assert_converged(
    site: SyncSite, org: OrgHandle, point: CrashPoint, tmp_path: Path, new: str
) -> None:
    """Assert the state a converged connector is in, and that one more run costs nothing (or
    the one read that ends a kill's doubt, once it is due).
    """
    before = len(org.request_log)
    again = site.site.start("sync")  # runs while `sfsync build`, which calls no API, does
    expected = built_sha256(site, tmp_path)
    out, err = site.site.finish(again)
    assert again.returncode == 0, out + err
    assert " unchanged " in out, out
    # Zero requests; or, when the kill's write could still land until now (its doubt is due,
    # as on a slow machine), exactly one read of the body that proves it did not matter.
    extra = [(entry.method, entry.path) for entry in org.request_log[before:]]
    if extra:
        assert len(extra) == 1, extra
        assert extra[0][0] == "GET", extra
        assert extra[0][1].endswith("/Body"), extra
        assert "checked in the org" in out, out
    assert expected == new, "the killed run pushed another build than `sfsync build` makes"
    assert site.live_sha256("sandbox") == expected

    pushes, connector = state_rows(site)
    assert [push["outcome"] for push in pushes] == list(point.outcomes), pushes
    assert all(push["finished_at"] is not None for push in pushes), pushes
    assert pushes[-1]["sha256"] == expected
    assert connector["live_sha256"] == expected
    assert connector["pending_deploy_id"] is None
    assert connector["pending_deploy_push_id"] is None
    assert connector["last_error"] is None
    if point.deploys:
        assert org.count(api="metadata", method="POST") == point.deploys

    code, out, err = site.run("status", "--json")
    assert code == 0, out + err
    row = next(row for row in json.loads(out)["connectors"] if row["connector"] == CONNECTOR)
    assert row["live_sha256"] == expected
    assert row["last_result"] == "pushed"
    assert row["last_error"] is None
    assert row["pending_deploy_id"] is None
    assert row["auth_error"] is None


@pytest.mark.parametrize("point", CRASH_POINTS, ids=lambda point: point.step)
def test_a_kill_at_this_step_converges_on_the_next_run(
    tmp_path: Path,
    emu: Emulator,
    held: HeldRequests,
    point: CrashPoint,
    secret_service_here: dict[str, str],
) -> None:
    """sfsync SIGKILLed at this step of a push leaves a state from which the next normal run
    makes the build live, records it, and leaves nothing unfinished.
    """
    org = emu.add_org(name="sandbox", deploy_seconds=DEPLOY_SECONDS)
    site = sync_site(
        tmp_path, emu, {"sandbox": org}, {"sandbox": point.environment_toml()}, secret_service_here
    )
    site.authorize("sandbox")
    if point.prior_push:
        site.publish(1)
        code, out, err = site.run("sync")
        assert code == 0, out + err
    old = site.live_sha256("sandbox")
    site.publish(len(site.published) + 1)
    if point.deploy_running:
        org.deploy_seconds = RUNNING_DEPLOY_SECONDS
    hold = RELEASE_SECONDS if point.answer_lost else HOLD_SECONDS
    org.faults.hang_next(1, seconds=hold, path_prefix=point.hold)

    def let_the_body_arrive() -> None:
        if point.answer_lost:
            # The request is held as soon as its headers arrive, and sfsync streams the body
            # after them: let the (small) body arrive too, or the org has nothing to apply.
            time.sleep(ANSWER_LOST_BODY_SECONDS)

    held_path = sync_killed_while_held(site, held, let_the_body_arrive)
    assert held_path.startswith(point.hold)
    org.faults.clear()

    pushes, connector = state_rows(site)
    assert pushes[-1]["outcome"] == "started", "sfsync recorded the push's end: killed too late"
    new = pushes[-1]["sha256"]
    if point.answer_lost:
        wait_until(
            lambda: site.live_sha256("sandbox") == new, WAIT_SECONDS, "the org to apply the request"
        )
        wait_until(
            lambda: org.request_log[-1].path.startswith(point.hold),
            WAIT_SECONDS,
            "the org's answer",
        )
    org_serves(site, point.org_before_rerun, old, new)
    if point.deploy_running:
        assert connector["pending_deploy_push_id"] == pushes[-1]["id"]
        deploy = org.deploy(connector["pending_deploy_id"])
        assert deploy is not None
        assert not deploy.done
        # Still running: the next run checks it, keeps its push open and deploys nothing anew.
        code, out, err = site.run("sync")
        assert code == 0, out + err
        assert " deploy_pending " in out, out
        assert org.count(api="metadata", method="POST") == 1
        pushes, connector = state_rows(site)
        assert [push["outcome"] for push in pushes] == ["started"]
        assert connector["pending_deploy_push_id"] == pushes[-1]["id"]
        org.deploy_seconds = DEPLOY_SECONDS
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert_converged(site, org, point, tmp_path, new)
