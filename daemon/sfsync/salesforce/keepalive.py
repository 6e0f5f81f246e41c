"""The keep-alive refresh: idle refresh tokens can expire by policy, so each connector is
refreshed at least every `daemon.keepalive` even when nothing is published (SPEC section 7).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sfsync.salesforce.session import ConnectorSession
from sfsync.tokens.record import StoredAuthorization


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


def keep_alive(session: ConnectorSession, now: datetime, keepalive: timedelta) -> bool:
    """Refresh the connector if its last refresh is older than `keepalive`; return whether it
    did. Raise AuthorizationError if the refresh token was refused.
    """
    if not keepalive_due(session.record, now, keepalive):
        return False
    session.refresh()
    return True
