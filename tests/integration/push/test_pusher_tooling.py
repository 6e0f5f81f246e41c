"""A Tooling push in this process: what reaches the org and what the store records."""

from __future__ import annotations

from collections.abc import Callable

from sfsync.sync.result import Result
from tests.fixtures.sync_support import STATIC_RESOURCE
from tests.integration.push.push_site import PushSite, build


def test_a_first_push_creates_the_resource_and_records_it_live(site: PushSite) -> None:
    """The first push finds no resource, creates it, and records the build live with its Id."""
    outcome = site.push(1)
    assert outcome.outcome is Result.PUSHED, outcome.detail
    assert outcome.recheck_after is None
    state = site.state()
    assert site.served() == build(1).sha256 == state.live_sha256
    assert state.resource_id == site.org.static_resources["sfsync_site"].id
    assert site.outcomes() == ["pushed"]
    assert site.org.count(api="tooling", method="POST") == 1


def test_a_later_push_patches_the_known_resource_only(site: PushSite) -> None:
    """With the Id known, a push is one PATCH: no query, no create."""
    site.push(1)
    before = len(site.org.request_log)
    outcome = site.push(2)
    assert outcome.outcome is Result.PUSHED, outcome.detail
    calls = [(entry.method, entry.path) for entry in site.org.request_log[before:]]
    assert calls == [("PATCH", f"{STATIC_RESOURCE}/{site.state().resource_id}")]
    assert site.served() == build(2).sha256


def test_a_resource_deleted_in_the_org_is_created_again(site: PushSite) -> None:
    """A PATCH that finds the known resource gone forgets its Id and creates it anew."""
    site.push(1)
    old = site.state().resource_id
    site.session.request("DELETE", f"{STATIC_RESOURCE}/{old}")
    outcome = site.push(2)
    assert outcome.outcome is Result.PUSHED, outcome.detail
    assert site.served() == build(2).sha256
    assert site.state().resource_id not in {None, old}


def test_a_failed_verify_fails_the_push_and_keeps_the_learnt_id(
    make_site: Callable[..., PushSite],
) -> None:
    """With verify on, a body read back that is not the pushed one fails the push; what was
    live stays live, and the Id the push learnt is kept for the next push.
    """
    site = make_site(verify=True)
    site.org.faults.fail_next(1, status=400, api="tooling", path_prefix=STATIC_RESOURCE + "/")
    outcome = site.push(1)
    assert outcome.outcome is Result.FAILED
    state = site.state()
    assert state.live_sha256 is None
    assert state.resource_id == site.org.static_resources["sfsync_site"].id
    assert site.outcomes() == ["failed"]
