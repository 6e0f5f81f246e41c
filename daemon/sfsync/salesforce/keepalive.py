"""The keep-alive refresh: idle refresh tokens can expire by policy, so each connector is
refreshed at least every `daemon.keepalive` even when nothing is published (SPEC section 7).
When a token grant last succeeded is kept in the state store (`token_proven_at`), so that a
refresh that changed nothing rewrites nothing in the keyring; the record's own times
(`refreshed_at`, `issued_at`) still count, for records written by older versions.
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


def keepalive_due(
    record: StoredAuthorization,
    now: datetime,
    keepalive: timedelta,
    proven_at: datetime | None = None,
) -> bool:
    """Given a connector's record, the time, the keep-alive period and when the state store
    last saw a token grant for it, return whether a refresh is due: the newest of those times
    is `keepalive` old (also when none is known).
    """
    known = [at for at in (last_refreshed(record), proven_at) if at is not None]
    return not known or now - max(known) >= keepalive


def keep_alive(
    session: ConnectorSession,
    now: datetime,
    keepalive: timedelta,
    proven_at: datetime | None = None,
) -> bool:
    """Refresh the connector if its last token grant (its record's, or `proven_at` from the
    state store) is older than `keepalive`; return whether it did. Raise AuthorizationError if
    the refresh token was refused.
    """
    if not keepalive_due(session.record, now, keepalive, proven_at):
        return False
    session.refresh()
    return True
