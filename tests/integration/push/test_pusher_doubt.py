"""A write that got no answer puts its connector in doubt; a check of the org once the doubt
is due ends it, or finds a late write and pushes the live build again (in this process; the
end-to-end twin, test_late_write, runs the CLI).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sfsync.sync.result import Result
from tests.fixtures.sync_support import DEPLOY, STATIC_RESOURCE
from tests.fixtures.wait import wait_until
from tests.integration.push.push_site import DOUBT_SECONDS, PATIENCE_SECONDS, PushSite, build

HELD_SECONDS = 3.0  # past the client's timeout: the org applies the write after it gave up
WAIT_SECONDS = 20.0


def test_a_write_without_answer_leaves_the_connector_in_doubt(site: PushSite) -> None:
    """A PATCH whose connection is reset is retried and succeeds, but the reset attempt may
    still land: the push is recorded with a doubt that lasts the doubt window.
    """
    site.push(1)
    site.org.faults.reset_next(1, api="tooling", path_prefix=f"{STATIC_RESOURCE}/")
    outcome = site.push(2)
    assert outcome.outcome is Result.PUSHED, outcome.detail
    due = site.clock() + timedelta(seconds=DOUBT_SECONDS)
    assert outcome.recheck_after == due
    assert site.state().recheck_after == due
    assert site.state().live_sha256 == build(2).sha256


def test_a_check_that_finds_the_live_build_ends_the_doubt_with_one_read(site: PushSite) -> None:
    """Once the doubt is due, one read of the body that finds the live build ends it; nothing
    is pushed.
    """
    site.push(1)
    site.org.faults.reset_next(1, api="tooling", path_prefix=f"{STATIC_RESOURCE}/")
    site.push(2)
    site.clock.advance(DOUBT_SECONDS)
    history = site.outcomes()
    before = len(site.org.request_log)
    outcome = site.recheck(2)
    assert outcome.outcome is Result.UNCHANGED, outcome.detail
    assert "checked in the org" in outcome.detail
    assert outcome.recheck_after is None
    assert site.state().recheck_after is None
    calls = [(entry.method, entry.path) for entry in site.org.request_log[before:]]
    assert calls == [("GET", f"{STATIC_RESOURCE}/{site.state().resource_id}/Body")]
    assert site.outcomes() == history


def test_a_late_write_over_a_newer_push_is_found_and_undone(
    make_site: Callable[..., PushSite],
) -> None:
    """v2's PATCH is held past the client's timeout (that push fails, in doubt); v3 is pushed
    and the doubt stays; the held v2 lands after it. The check once the doubt is due finds v2,
    pushes v3 again and ends the doubt.
    """
    site = make_site(timeout=1.0, attempts=1)
    site.push(1)
    site.org.faults.hang_next(
        1, seconds=HELD_SECONDS, api="tooling", path_prefix=f"{STATIC_RESOURCE}/"
    )
    failed = site.push(2)
    assert failed.outcome is Result.FAILED, failed.detail
    due = site.state().recheck_after
    assert due == site.clock() + timedelta(seconds=DOUBT_SECONDS)
    site.clock.advance(1)
    pushed = site.push(3)
    assert pushed.outcome is Result.PUSHED, pushed.detail
    assert pushed.recheck_after == due, "a push that began before the doubt's end proves nothing"
    wait_until(lambda: site.served() == build(2).sha256, WAIT_SECONDS, "the late v2 write")
    assert site.state().live_sha256 == build(3).sha256

    site.clock.now = due
    outcome = site.recheck(3)
    assert outcome.outcome is Result.PUSHED, outcome.detail
    assert f"the org served {build(2).sha256[:12]}" in outcome.detail
    assert outcome.recheck_after is None
    assert site.served() == build(3).sha256
    assert site.state().recheck_after is None
    assert site.outcomes() == ["pushed", "failed", "pushed", "pushed"]


def test_a_deploy_request_without_answer_is_in_doubt_for_the_deploy_patience_longer(
    make_site: Callable[..., PushSite],
) -> None:
    """A deploy request whose connection is reset may have queued a deploy that runs later:
    the Metadata connector's doubt lasts the deploy patience longer than a Tooling write's.
    """
    site = make_site(api="metadata")
    site.org.faults.reset_next(1, api="metadata", path_prefix=DEPLOY)
    outcome = site.push(1)
    assert outcome.outcome is Result.PUSHED, outcome.detail
    due = site.clock() + timedelta(seconds=DOUBT_SECONDS + PATIENCE_SECONDS)
    assert outcome.recheck_after == due
    assert site.state().recheck_after == due
    assert site.served() == build(1).sha256


def test_verify_reads_back_by_name_when_the_known_id_is_gone(site: PushSite) -> None:
    """The read-back `sfsync verify` uses finds the resource by name when the Id the store
    knows no longer exists, and the store learns the new Id.
    """
    site.push(1)
    old = site.state().resource_id
    site.session.request("DELETE", f"{STATIC_RESOURCE}/{old}")
    site.org.seed_resource("sfsync_site", build(1).data)
    body = site.pusher.read_back(site.connector, site.session, state=site.state())
    assert body == build(1).data
    assert site.state().resource_id == site.org.static_resources["sfsync_site"].id != old
