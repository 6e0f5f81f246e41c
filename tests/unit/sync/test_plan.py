"""Deciding per connector whether to push: unchanged costs nothing, gates and pauses hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sfsync.salesforce.limits import ApiUsage
from sfsync.state.records import BuildKey, ConnectorState
from sfsync.sync.plan import (
    Action,
    Gate,
    authorization_usable,
    decide,
    fresh_usage,
    needs_build,
    recorded_build,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
NEW, OLD, CONTENT = "n" * 64, "o" * 64, "c" * 64
GATE = Gate(requires="lightning/sandbox", soak=timedelta(hours=1))


def plan(**overrides: Any) -> Action:
    arguments: dict[str, Any] = {
        "connector": "lightning/production",
        "built_sha256": NEW,
        "built_content_sha256": CONTENT,
        "state": ConnectorState("lightning/production", live_sha256=OLD),
        "gate": None,
        "required_state": None,
        "authorized": True,
        "api_usage": 0.1,
        "api_usage_ceiling": 0.8,
        "now": NOW,
    }
    arguments.update(overrides)
    return decide(**arguments).action


def sandbox(
    content: str = CONTENT, since: datetime | None = NOW - timedelta(hours=2)
) -> ConnectorState:
    return ConnectorState("lightning/sandbox", live_content_sha256=content, live_since=since)


def test_changed_build_is_pushed() -> None:
    """A build that differs from what is live is pushed."""
    assert plan() == Action.PUSH


def test_unchanged_build_is_not_pushed() -> None:
    """The live build is not pushed again: zero API calls."""
    assert plan(state=ConnectorState("x", live_sha256=NEW)) == Action.UNCHANGED


def test_force_pushes_an_unchanged_build() -> None:
    """--force pushes even the live build."""
    assert plan(state=ConnectorState("x", live_sha256=NEW), force=True) == Action.PUSH


@pytest.mark.parametrize(
    ("state", "authorized", "expected"),
    [
        (ConnectorState("x", paused=True), True, Action.PAUSED),
        (ConnectorState("x"), False, Action.NEEDS_AUTHORIZATION),
        (ConnectorState("x", pending_deploy_id="0Af1"), True, Action.DEPLOY_PENDING),
    ],
    ids=["paused", "no-token", "deploy-pending"],
)
def test_blocks_win_even_over_force(
    state: ConnectorState, authorized: bool, expected: Action
) -> None:
    """A pause, a missing authorization or a running deploy stop even a forced push."""
    assert plan(state=state, authorized=authorized, force=True) == expected


def test_gate_closed_until_content_is_live_on_required() -> None:
    """A gated connector waits until the same content is live on the required environment."""
    assert plan(gate=GATE, required_state=None) == Action.GATED
    assert plan(gate=GATE, required_state=sandbox(content="other")) == Action.GATED


def test_gate_closed_while_soaking() -> None:
    """Content live on the required environment for less than soak is not promoted yet."""
    decision = decide(
        connector="lightning/production",
        built_sha256=NEW,
        built_content_sha256=CONTENT,
        state=ConnectorState("lightning/production"),
        gate=GATE,
        required_state=sandbox(since=NOW - timedelta(minutes=15)),
        authorized=True,
        api_usage=None,
        api_usage_ceiling=0.8,
        now=NOW,
    )
    assert decision.action == Action.GATED
    assert "(45m00s left)" in decision.reason


def test_gate_opens_after_soak() -> None:
    """After soak, the content is promoted."""
    assert plan(gate=GATE, required_state=sandbox(since=NOW - timedelta(hours=1))) == Action.PUSH


def test_usage_above_ceiling_defers() -> None:
    """Pushes wait while API usage is above the configured ceiling."""
    assert plan(api_usage=0.85) == Action.DEFERRED
    assert plan(api_usage=0.8) == Action.PUSH
    assert plan(api_usage=None) == Action.PUSH


def test_reason_names_old_and_new() -> None:
    """The reason printed by --dry-run names the new build and what it replaces."""
    decision = decide(
        connector="c",
        built_sha256=NEW,
        built_content_sha256=CONTENT,
        state=ConnectorState("c"),
        gate=None,
        required_state=None,
        authorized=True,
        api_usage=None,
        api_usage_ceiling=0.8,
        now=NOW,
    )
    assert decision.reason == f"{NEW[:12]} replaces nothing"


@pytest.mark.parametrize(
    ("state", "issued_at", "usable"),
    [
        (ConnectorState("x"), "2026-01-01T00:00:00+00:00", True),
        (ConnectorState("x"), None, False),
        (
            ConnectorState("x", needs_authorization=True, refused_issued_at="2026-01-01"),
            "2026-01-01",
            False,
        ),
        (
            ConnectorState("x", needs_authorization=True, refused_issued_at="2026-01-01"),
            "2026-02-02",
            True,
        ),
        (ConnectorState("x", needs_authorization=True, refused_issued_at=None), None, False),
    ],
    ids=["authorized", "no-record", "refused", "re-authorized", "refused-none"],
)
def test_authorization_usable_until_refused_and_again_after_authorize(
    state: ConnectorState, issued_at: str | None, usable: bool
) -> None:
    """Salesforce's refusal marks one authorization; a new `sfsync authorize` lifts the mark."""
    assert authorization_usable(state, issued_at) is usable


@pytest.mark.parametrize(
    ("seen", "now", "expected"),
    [
        (None, 1000.0, None),
        ((ApiUsage(used=90, allowed=100), 1000.0), 1000.0, 0.9),
        ((ApiUsage(used=90, allowed=100), 1000.0), 1299.0, 0.9),
        ((ApiUsage(used=90, allowed=100), 1000.0), 1300.0, None),
    ],
    ids=["none", "just-seen", "still-fresh", "stale"],
)
def test_reported_usage_defers_only_while_fresh(
    seen: tuple[ApiUsage, float] | None, now: float, expected: float | None
) -> None:
    """Usage older than five minutes no longer defers: a deferred connector makes no calls,
    so nothing else would ever lift the deferral.
    """
    assert fresh_usage(seen, now) == expected


@pytest.mark.parametrize(
    ("recheck_after", "usage", "force", "expected"),
    [
        (None, 0.1, False, Action.UNCHANGED),  # no doubt: zero calls
        (NOW + timedelta(seconds=1), 0.1, False, Action.UNCHANGED),  # the write may still land
        (NOW, 0.1, False, Action.RECHECK),  # it can no longer land: read the body once
        (NOW - timedelta(hours=1), 0.1, False, Action.RECHECK),
        (NOW, 0.9, False, Action.DEFERRED),  # even that one read waits for the budget
        (NOW + timedelta(seconds=1), 0.9, False, Action.UNCHANGED),
        (NOW, 0.1, True, Action.PUSH),  # --force pushes, which proves the body anyway
    ],
)
def test_a_live_build_in_doubt_is_checked_once_the_write_cannot_land(
    recheck_after: datetime | None, usage: float, force: bool, expected: Action
) -> None:
    """A live build whose org may have taken a late write is read back once `recheck_after`
    has passed, and not before; API usage above the ceiling defers that read.
    """
    state = ConnectorState("x", live_sha256=NEW, recheck_after=recheck_after)
    assert plan(state=state, api_usage=usage, force=force) == expected


@pytest.mark.parametrize(
    "state",
    [
        ConnectorState("x", live_sha256=NEW, recheck_after=NOW, paused=True),
        ConnectorState("x", live_sha256=NEW, recheck_after=NOW, pending_deploy_id="0Af1"),
    ],
)
def test_a_pause_or_a_running_deploy_wins_over_a_recheck(state: ConnectorState) -> None:
    """A paused connector is left alone, and a deploy that may run is settled first."""
    assert plan(state=state) in {Action.PAUSED, Action.DEPLOY_PENDING}


def test_a_changed_build_in_doubt_is_pushed() -> None:
    """Doubt about the old build does not hold back a new one: the push goes ahead."""
    state = ConnectorState("x", live_sha256=OLD, recheck_after=NOW - timedelta(seconds=5))
    assert plan(state=state) == Action.PUSH


def test_a_recorded_build_is_known_by_its_key() -> None:
    """The build recorded under the current inputs' key is what those inputs build to."""
    build = BuildKey("k" * 64, NEW, 1234)
    state = ConnectorState("x", live_sha256=NEW, build=build)
    assert recorded_build(state, "k" * 64) == build


@pytest.mark.parametrize(
    "state",
    [
        ConnectorState("x", live_sha256=NEW, build=BuildKey("k" * 64, NEW, 1234)),
        ConnectorState("x", live_sha256=NEW),
    ],
    ids=["other-key", "never-built"],
)
def test_changed_inputs_are_not_known(state: ConnectorState) -> None:
    """Inputs with another key (or a connector never built) must be built to be known."""
    assert recorded_build(state, "j" * 64) is None


@pytest.mark.parametrize(
    ("action", "needed"),
    [
        (Action.PUSH, True),
        (Action.RECHECK, True),
        (Action.DEPLOY_PENDING, True),
        (Action.UNCHANGED, False),
        (Action.GATED, False),
        (Action.PAUSED, False),
        (Action.NEEDS_AUTHORIZATION, False),
        (Action.DEFERRED, False),
    ],
)
def test_only_pushes_checks_and_deploys_need_the_build(action: Action, needed: bool) -> None:
    """A push, a check of the org's body and a pending deploy need the bytes; no other does."""
    assert needs_build(action) is needed


def test_a_changed_recorded_build_decides_a_push() -> None:
    """Deciding on a recorded build's hash pushes it when it is not what is live."""
    state = ConnectorState("x", live_sha256=OLD, build=BuildKey("k" * 64, NEW, 1))
    known = recorded_build(state, "k" * 64)
    assert known is not None
    assert plan(built_sha256=known.sha256, state=state) == Action.PUSH
