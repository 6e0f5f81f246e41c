"""Deciding, per connector, whether a build is pushed now, and if not, why (pure)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sfsync.config.names import authorize_arguments
from sfsync.salesforce.limits import ApiUsage
from sfsync.state.records import BuildKey, ConnectorState

if TYPE_CHECKING:
    from sfsync.config import Connector


class Action(StrEnum):
    """What a cycle does with one connector."""

    PUSH = "push"
    UNCHANGED = "unchanged"  # the build is already live: zero API calls
    GATED = "gated"  # the promotion gate is closed: not an error
    PAUSED = "paused"  # an operator paused it (rollback)
    NEEDS_AUTHORIZATION = "needs_authorization"
    DEPLOY_PENDING = "deploy_pending"  # a Metadata deploy may still run: check it first
    DEFERRED = "deferred"  # API usage is above the ceiling
    RECHECK = "recheck"  # a write whose outcome was unknown may have landed: read the body


# The actions whose doing needs the build's bytes: pushing it, comparing the org's body with
# it, or settling a deploy after which it may be pushed. Every other action is the whole
# outcome, decided on the build's hash alone.
_NEEDS_BYTES = frozenset({Action.PUSH, Action.RECHECK, Action.DEPLOY_PENDING})


def needs_build(action: Action) -> bool:
    """Given a decided action, return whether doing it needs the build itself, not its hash."""
    return action in _NEEDS_BYTES


def recorded_build(state: ConnectorState, key: str) -> BuildKey | None:
    """Given a connector's state and the key of its build inputs now, return what those
    inputs built to when last built (the build is deterministic), or None if they changed
    since (or it was never built): then only building tells.
    """
    if state.build is None or state.build.key != key:
        return None
    return state.build


@dataclass(frozen=True)
class Gate:
    """A connector's promotion gate: content must be live on `requires` for `soak` first."""

    requires: str  # the required connector's full name, "system/environment"
    soak: timedelta


def gate_of(connector: Connector) -> Gate | None:
    """Given a connector, return its promotion gate, or None if it has none."""
    if connector.requires is None:
        return None
    return Gate(
        requires=f"{connector.system}/{connector.requires}", soak=connector.soak or timedelta(0)
    )


@dataclass(frozen=True)
class Decision:
    """The plan for one connector, with the reason an operator reads in `sync --dry-run`."""

    connector: str
    action: Action
    reason: str


# How long a reported API usage is trusted for deferring pushes: Salesforce's limit is a
# rolling 24 hours, so usage falls as time passes.
USAGE_FRESH_SECONDS = 300.0


def fresh_usage(seen: tuple[ApiUsage, float] | None, now: float) -> float | None:
    """Given the last usage an org reported with when (epoch seconds), and the time, return the
    share to decide on, or None if there is none or it is older than USAGE_FRESH_SECONDS.

    A deferred connector makes no calls, so its usage is never re-read: an old sample must not
    defer it for ever. Once it is stale the push is tried, and the answers tell anew.
    """
    if seen is None or now - seen[1] >= USAGE_FRESH_SECONDS:
        return None
    return seen[0].ratio


def authorization_usable(state: ConnectorState, issued_at: str | None) -> bool:
    """Given a connector's state and the `issued_at` of its keyring authorization (None: it has
    none), return whether pushing may use it: not if Salesforce refused that very authorization;
    a new `sfsync authorize` issues a new one, which lifts the mark.
    """
    if issued_at is None:
        return False
    return not (state.needs_authorization and state.refused_issued_at == issued_at)


def decide(  # noqa: PLR0911 - one return per rule reads as the decision table it is
    *,
    connector: str,
    built_sha256: str,
    built_content_sha256: str,
    state: ConnectorState,
    gate: Gate | None,
    required_state: ConnectorState | None,
    authorized: bool,
    api_usage: float | None,
    api_usage_ceiling: float,
    now: datetime,
    force: bool = False,
) -> Decision:
    """Given one connector's new build, its state, its gate and the state of the environment
    the gate requires, return whether to push it now and why.

    An unchanged build is never pushed unless `force`, but once an earlier write whose outcome
    was unknown can no longer land, the org's body is read once (RECHECK). A pause, a missing
    authorization and a deploy that may still be running always win, even over `force`.
    """

    def verdict(action: Action, reason: str) -> Decision:
        return Decision(connector=connector, action=action, reason=reason)

    if state.paused:
        return verdict(Action.PAUSED, f"paused: {state.paused_reason or 'by an operator'}")
    if not authorized:
        return verdict(
            Action.NEEDS_AUTHORIZATION,
            f"not authorized: run `sfsync authorize {authorize_arguments(connector)}`",
        )
    if state.pending_deploy_id is not None:
        return verdict(
            Action.DEPLOY_PENDING, f"Metadata deploy {state.pending_deploy_id} may still be running"
        )
    deferred = (
        Decision(
            connector,
            Action.DEFERRED,
            f"API usage {api_usage:.0%} is above the ceiling of {api_usage_ceiling:.0%}",
        )
        if api_usage is not None and api_usage > api_usage_ceiling
        else None
    )
    if state.live_sha256 == built_sha256 and not force:
        return _live(connector, built_sha256, state.recheck_after, now, deferred)
    if gate is not None:
        closed = gate_closed_reason(gate, built_content_sha256, required_state, now)
        if closed is not None:
            return verdict(Action.GATED, closed)
    if deferred is not None:
        return deferred
    if state.live_sha256 == built_sha256:
        return verdict(Action.PUSH, f"{built_sha256[:12]} is live; pushing again (--force)")
    was = state.live_sha256[:12] if state.live_sha256 else "nothing"
    return verdict(Action.PUSH, f"{built_sha256[:12]} replaces {was}")


def _live(
    connector: str,
    sha256: str,
    recheck_after: datetime | None,
    now: datetime,
    deferred: Decision | None,
) -> Decision:
    """The decision for a build that is already live: nothing, unless it is in doubt and the
    check is due (and API usage allows that one read).
    """
    if recheck_after is None:
        return Decision(connector, Action.UNCHANGED, f"{sha256[:12]} is already live")
    if now < recheck_after:
        return Decision(
            connector,
            Action.UNCHANGED,
            f"{sha256[:12]} is live; an earlier write's outcome is unknown, "
            f"so the org is checked after {recheck_after.isoformat(timespec='seconds')}",
        )
    if deferred is not None:
        return deferred
    return Decision(
        connector,
        Action.RECHECK,
        f"{sha256[:12]} should be live; an earlier write's outcome was unknown: "
        "checking what the org serves",
    )


def gate_closed_reason(
    gate: Gate, content_sha256: str, required: ConnectorState | None, now: datetime
) -> str | None:
    """Given a gate, the content to promote, the required connector's state and the time,
    return why the gate is closed, or None if it is open.

    Builds differ per connector (settings, manifest), so the gate compares the published
    content's hash, which is the same for every connector of a system.
    """
    if required is None or required.live_content_sha256 != content_sha256:
        return f"waiting for this content to go live on {gate.requires}"
    opens_at = soak_ends(gate, required, now)
    if now < opens_at:
        remaining = opens_at - now
        return (
            f"soaking on {gate.requires} until {opens_at.isoformat(timespec='seconds')} "
            f"({_short(remaining)} left)"
        )
    return None


def soak_ends(gate: Gate, required: ConnectorState, now: datetime) -> datetime:
    """Given a gate, the required connector's state and the time, return when what is live
    there has soaked long enough to be promoted.
    """
    since = required.live_since
    if since is None:  # live but never timed: treat as just now
        since = now
    return since + gate.soak


def gate_waiting(
    gate: Gate,
    state: ConnectorState,
    required: ConnectorState | None,
    now: datetime,
    *,
    had_live: Collection[str] = (),
) -> str | None:
    """Given a connector's gate and state, the required connector's state and the time, return
    what the connector waits for, for `sfsync status`: content live on the required connector
    that this one does not have, while it soaks there. Return None when nothing waits: nothing
    new is live upstream, or its soak is over (the next cycle promotes it).

    `had_live` holds the contents the connector has had live before: upstream content it
    already had (the required connector was rolled back) is not waited for. Whether the gate
    is closed is `gate_closed_reason`'s answer, the one `decide` acts on.
    """
    if required is None or required.live_sha256 is None:
        return None
    content = required.live_content_sha256
    if content is None or content == state.live_content_sha256 or content in had_live:
        return None
    if gate_closed_reason(gate, content, required, now) is None:
        return None
    since = required.live_since
    return (
        f"waiting for {gate.requires}: {required.live_sha256[:12]} live since "
        f"{since.isoformat(timespec='seconds') if since else 'an unknown time'}, "
        f"soak until {soak_ends(gate, required, now).isoformat(timespec='seconds')}"
    )


def _short(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
