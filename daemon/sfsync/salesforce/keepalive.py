"""The keep-alive refresh: idle refresh tokens can expire by policy, so each connector is
refreshed at least every `daemon.keepalive` even when nothing is published (SPEC section 7).
The time of the last refresh is kept in the connector's keyring entry, written only when it lags
by more than a slack (`stamp_slack`), so that a refresh that changed nothing rewrites nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sfsync.tokens.record import StoredAuthorization

if TYPE_CHECKING:
    # The session asks `refresh_worth_storing` below: imported at run time, a cycle.
    from sfsync.salesforce.session import ConnectorSession

# What share of `keepalive` the stored time of the last refresh may lag behind the truth.
STAMP_SLACK_SHARE = 10


def last_refreshed(record: StoredAuthorization) -> datetime | None:
    """Return when a connector last got a token (its refresh, else its authorization)."""
    for text in (record.refreshed_at, record.issued_at):
        if text:
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                continue
    return None


def keepalive_due(record: StoredAuthorization, now: datetime, keepalive: timedelta) -> bool:
    """Given a connector's record, the time and the keep-alive period, return whether a
    refresh is due (also when the record says nothing of its last refresh).
    """
    last = last_refreshed(record)
    return last is None or now - last >= keepalive


def stamp_slack(keepalive: timedelta) -> timedelta:
    """Given the keep-alive period, return how far behind the last refresh the stored
    `refreshed_at` may be left (a tenth of the period): the keep-alive, reading it after a
    restart, then refreshes at most that much early, and a refresh that changed nothing else
    is not written to the keyring (with a file keyring, a whole-file rewrite per refresh).
    """
    return keepalive / STAMP_SLACK_SHARE


def refresh_worth_storing(
    stored: StoredAuthorization, renewed: StoredAuthorization, now: datetime, slack: timedelta
) -> bool:
    """Given the stored authorization, the same after a refresh at `now` and the slack, return
    whether the refresh must be written: always when the refresh token or the instance URL
    changed (a rotation is kept before the new token is used, SPEC section 7), else only when
    the stored time of the last refresh is `slack` old, unknown or in the future (a clock
    that was set back would otherwise put off the keep-alive).
    """
    if replace(renewed, refreshed_at=stored.refreshed_at) != stored:
        return True
    last = last_refreshed(stored)
    return last is None or not timedelta(0) <= now - last < slack


def keep_alive(session: ConnectorSession, now: datetime, keepalive: timedelta) -> bool:
    """Refresh the connector if its last refresh is older than `keepalive`; return whether it
    did. Raise AuthorizationError if the refresh token was refused.
    """
    if not keepalive_due(session.record, now, keepalive):
        return False
    session.refresh()
    return True
