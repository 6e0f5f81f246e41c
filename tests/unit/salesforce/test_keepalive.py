"""The keep-alive refresh: due after `keepalive`, with the time injected."""

from __future__ import annotations

from datetime import timedelta

import responses

from sfsync.salesforce.keepalive import keep_alive, keepalive_due
from sfsync.salesforce.session import ConnectorSession
from sfsync.tokens import MemoryTokenStore
from tests.unit.salesforce.sf_helpers import CONNECTOR, NOW, TOKEN_URL, stored, token_answer

WEEK = timedelta(days=7)


def test_due_only_after_the_period() -> None:
    """A refresh is due when the last one is at least `keepalive` old."""
    recent = stored(refreshed_at=(NOW - timedelta(days=6)).isoformat())
    old = stored(refreshed_at=(NOW - timedelta(days=7)).isoformat())
    assert not keepalive_due(recent, NOW, WEEK)
    assert keepalive_due(old, NOW, WEEK)


def test_falls_back_to_issued_at() -> None:
    """With no refresh yet, the authorization time counts."""
    assert keepalive_due(stored(issued_at=(NOW - WEEK * 2).isoformat()), NOW, WEEK)
    assert not keepalive_due(stored(issued_at=NOW.isoformat()), NOW, WEEK)


@responses.activate
def test_keep_alive_refreshes_and_records_the_time(
    session: ConnectorSession, store: MemoryTokenStore
) -> None:
    """A due keep-alive refreshes once and records the refresh time in the keyring entry."""
    store.records[CONNECTOR] = stored(issued_at=(NOW - WEEK).isoformat())
    responses.post(TOKEN_URL, json=token_answer())
    assert keep_alive(session, NOW, WEEK)
    record = store.get(CONNECTOR)
    assert record is not None
    assert record.refreshed_at == NOW.isoformat()
    assert not keep_alive(session, NOW + timedelta(days=1), WEEK)
    assert len(responses.calls) == 1
