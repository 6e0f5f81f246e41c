"""A process that dies during a push (here: at the org's answer to one call, so the org did
what was asked and sfsync never heard) leaves a 'started' push; the next process marks it
abandoned, puts the connector in doubt, and its push makes the build live. The end-to-end
twin, test_sync_crash, SIGKILLs the real CLI at each step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from sfsync.salesforce.limits import ApiUsage
from sfsync.sync.result import Result
from tests.fixtures.sync_support import DEPLOY
from tests.integration.push.push_site import DOUBT_SECONDS, PushSite, build


class Crash(BaseException):
    """The process dies here: nothing after it runs, not even the pusher's error handling."""


def crash_after(site: PushSite, answers: int) -> None:
    """Make the process die as the org's `answers`-th answer from now arrives: the org has
    done what was asked, and the pusher never hears of it.
    """
    heard: list[ApiUsage] = []

    def answered(usage: ApiUsage) -> None:
        heard.append(usage)
        if len(heard) >= answers:
            site.on_answer = None
            raise Crash

    site.on_answer = answered


def test_a_crash_before_the_org_got_the_body_is_pushed_again(site: PushSite) -> None:
    """Dead at the first answer (the query for the resource): the org has nothing; the next
    process abandons the push and creates the resource.
    """
    crash_after(site, 1)
    with pytest.raises(Crash):
        site.push(1)
    assert site.outcomes() == ["started"]
    assert site.served() is None
    abandoned = site.restart()
    assert [push.sha256 for push in abandoned] == [build(1).sha256]
    due = site.clock() + timedelta(seconds=DOUBT_SECONDS)
    assert site.state().recheck_after == due
    outcome = site.push(1)
    assert outcome.outcome is Result.PUSHED, outcome.detail
    assert outcome.recheck_after == due
    assert site.served() == build(1).sha256 == site.state().live_sha256
    assert site.outcomes() == ["abandoned", "pushed"]
    assert site.org.count(api="tooling", method="POST") == 1


@pytest.mark.parametrize("verify", [False, True], ids=["patch", "verify-download"])
def test_a_crash_after_the_org_applied_the_patch_is_pushed_again(
    make_site: Callable[..., PushSite], *, verify: bool
) -> None:
    """Dead at the PATCH's answer (or at the body read back after it): the org serves v2 while
    the store says v1; the next process abandons the push and PATCHes v2 again.
    """
    site = make_site(verify=verify)
    site.push(1)
    crash_after(site, 2 if verify else 1)
    with pytest.raises(Crash):
        site.push(2)
    assert site.outcomes() == ["pushed", "started"]
    assert site.served() == build(2).sha256
    assert site.state().live_sha256 == build(1).sha256
    site.restart()
    outcome = site.push(2)
    assert outcome.outcome is Result.PUSHED, outcome.detail
    assert site.served() == build(2).sha256 == site.state().live_sha256
    assert site.outcomes() == ["pushed", "abandoned", "pushed"]
    assert site.state().last_error is None


def test_a_deploy_still_running_is_checked_before_any_new_deploy(
    make_site: Callable[..., PushSite],
) -> None:
    """A deploy still running when the wait ends (or the process dies) stays recorded with its
    'started' push, which a restart does not abandon; checking it deploys nothing anew, and
    once it has ended its push is recorded pushed and the deploy forgotten.
    """
    site = make_site(api="metadata", patience_seconds=0.0)
    site.org.deploy_seconds = 3600.0
    outcome = site.push(1)
    assert outcome.outcome is Result.DEPLOY_PENDING, outcome.detail
    state = site.state()
    assert state.pending_deploy_id is not None
    assert state.pending_deploy_sha256 == build(1).sha256
    assert site.restart() == []
    assert site.outcomes() == ["started"]

    still = site.pusher.settle_pending_deploy(site.connector, site.session, state=site.state())
    assert still is not None
    assert still.outcome is Result.DEPLOY_PENDING
    assert site.org.count(api="metadata", method="POST", path_prefix=DEPLOY) == 1

    site.org.deploy_seconds = 0.0
    ended = site.pusher.settle_pending_deploy(site.connector, site.session, state=site.state())
    assert ended is None
    state = site.state()
    assert state.pending_deploy_id is None
    assert state.pending_deploy_push_id is None
    assert state.live_sha256 == build(1).sha256 == site.served()
    assert site.outcomes() == ["pushed"]
    assert site.org.count(api="metadata", method="POST", path_prefix=DEPLOY) == 1


def test_a_crash_after_the_org_created_the_resource_finds_it_by_name(site: PushSite) -> None:
    """Dead at the create's answer: the org has the resource, the store not its Id; the next
    process finds it by name and PATCHes it, never creating a second one.
    """
    crash_after(site, 2)  # the query, then the create
    with pytest.raises(Crash):
        site.push(1)
    assert site.served() == build(1).sha256
    assert site.state().resource_id is None
    site.restart()
    outcome = site.push(1)
    assert outcome.outcome is Result.PUSHED, outcome.detail
    assert site.state().resource_id == site.org.static_resources["sfsync_site"].id
    assert site.outcomes() == ["abandoned", "pushed"]
    assert site.org.count(api="tooling", method="POST") == 1


def test_a_crash_after_a_deploy_request_without_its_id_deploys_again_in_doubt(
    make_site: Callable[..., PushSite],
) -> None:
    """Dead at the deploy request's answer: the org ran the deploy, sfsync never learnt its
    id; the next process abandons the push, deploys again, and stays in doubt for the
    Metadata window (the lost deploy might have run later).
    """
    site = make_site(api="metadata")
    crash_after(site, 1)
    with pytest.raises(Crash):
        site.push(1)
    assert site.state().pending_deploy_id is None
    site.restart()
    due = site.clock() + site.pusher.doubt_window("metadata")
    outcome = site.push(1)
    assert outcome.outcome is Result.PUSHED, outcome.detail
    assert outcome.recheck_after == due
    assert site.outcomes() == ["abandoned", "pushed"]
    assert site.org.count(api="metadata", method="POST", path_prefix=DEPLOY) == 2
    assert site.served() == build(1).sha256


@pytest.mark.parametrize("verify", [False, True], ids=["poll", "verify"])
def test_a_crash_after_the_deploy_ended_finishes_that_push_without_deploying_again(
    make_site: Callable[..., PushSite], *, verify: bool
) -> None:
    """Dead at the poll that saw the deploy end (or while verifying it): the deploy's id is
    still recorded with its 'started' push, so the next process checks that deploy and
    finishes the same push, deploying nothing anew.
    """
    site = make_site(api="metadata", verify=verify)
    crash_after(site, 3 if verify else 2)  # the deploy request, the poll, (the query)
    with pytest.raises(Crash):
        site.push(1)
    assert site.restart() == []
    state = site.state()
    assert state.pending_deploy_id is not None
    assert site.pusher.settle_pending_deploy(site.connector, site.session, state=state) is None
    state = site.state()
    assert state.pending_deploy_id is None
    assert state.live_sha256 == build(1).sha256 == site.served()
    assert site.outcomes() == ["pushed"]
    assert site.org.count(api="metadata", method="POST", path_prefix=DEPLOY) == 1
