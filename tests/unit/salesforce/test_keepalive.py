"""The keep-alive refresh: due after `keepalive` (from the record's times or the state store's
proof), with the time injected; which refreshes are written to the keyring.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import responses

from sfsync.salesforce.keepalive import keep_alive, keepalive_due
from sfsync.salesforce.session import ConnectorSession
from sfsync.tokens import MemoryTokenStore
from tests.unit.salesforce.sf_helpers import (
    CONNECTOR,
    NOW,
    TOKEN_URL,
    connector_session,
    stored,
    token_answer,
)

WEEK = timedelta(days=7)
MOVED = "https://acme2.my.salesforce.com"


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
def test_keep_alive_refreshes_and_proves_the_token(store: MemoryTokenStore, tmp_path: Path) -> None:
    """A due keep-alive refreshes once and notes the grant as a proof (the keyring entry is
    left as it was: nothing but the time changed); the next one is not due a day later.
    """
    store.records[CONNECTOR] = stored(issued_at=(NOW - WEEK).isoformat())
    responses.post(TOKEN_URL, json=token_answer())
    proofs: dict[str, datetime] = {}
    session = session_noting(store, tmp_path, proofs)
    assert keep_alive(session, NOW, WEEK)
    assert proofs == {CONNECTOR: NOW}
    assert store.writes == []
    assert not keep_alive(session, NOW + timedelta(days=1), WEEK)
    assert len(responses.calls) == 1


def test_due_from_the_newest_of_the_record_and_the_stores_proof() -> None:
    """A proof in the state store newer than the record's times puts the refresh off; an
    older one does not bring it forward.
    """
    old = stored(refreshed_at=(NOW - WEEK * 2).isoformat())
    assert not keepalive_due(old, NOW, WEEK, proven_at=NOW - timedelta(days=6))
    assert keepalive_due(old, NOW, WEEK, proven_at=NOW - WEEK)
    recent = stored(refreshed_at=(NOW - timedelta(days=1)).isoformat())
    assert not keepalive_due(recent, NOW, WEEK, proven_at=NOW - WEEK * 3)
    assert not keepalive_due(stored(issued_at="not a time"), NOW, WEEK, proven_at=NOW)


def session_noting(
    store: MemoryTokenStore, tmp_path: Path, proofs: dict[str, datetime]
) -> ConnectorSession:
    """Return a session on `store` at NOW whose grants are noted in `proofs`."""
    return connector_session(store, tmp_path, on_proof=proofs.__setitem__)


@responses.activate
def test_session_writes_nothing_for_a_refresh_that_changed_nothing(
    store: MemoryTokenStore, tmp_path: Path
) -> None:
    """A refresh keeping the token and the instance writes nothing to the keyring, however old
    the stored time; the grant is noted as a proof, and the keep-alive counts it in-process.
    """
    store.records[CONNECTOR] = stored(refreshed_at=(NOW - WEEK * 4).isoformat())
    responses.post(TOKEN_URL, json=token_answer())
    proofs: dict[str, datetime] = {}
    session = session_noting(store, tmp_path, proofs)
    assert session.access_token()
    assert store.writes == []
    assert proofs == {CONNECTOR: NOW}
    assert session.record.refreshed_at == NOW.isoformat()
    assert not keep_alive(session, NOW + WEEK - timedelta(seconds=1), WEEK)


@responses.activate
def test_session_writes_a_rotation_or_a_moved_instance(
    store: MemoryTokenStore, tmp_path: Path
) -> None:
    """A rotated refresh token, or a new instance URL, is written to the keyring at once."""
    store.records[CONNECTOR] = stored(refreshed_at=NOW.isoformat())
    rotated = "5Aep861" + "X" * 80
    responses.post(TOKEN_URL, json=token_answer(refresh=rotated))
    proofs: dict[str, datetime] = {}
    session_noting(store, tmp_path, proofs).access_token()
    assert [record.refresh_token for _, record in store.writes if record] == [rotated]
    responses.replace(responses.POST, TOKEN_URL, json={**token_answer(), "instance_url": MOVED})
    moved = session_noting(store, tmp_path, proofs)
    moved.access_token()
    assert len(store.writes) == 2
    kept = store.get(CONNECTOR)
    assert kept is not None
    assert kept.instance_url == MOVED
    assert proofs == {CONNECTOR: NOW}
