"""The keep-alive refresh: due after `keepalive`, with the time injected; which refreshes are
written to the keyring.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import responses

from sfsync.http_session import HttpSettings, new_http_session
from sfsync.salesforce.keepalive import (
    keep_alive,
    keepalive_due,
    refresh_worth_storing,
    stamp_slack,
)
from sfsync.salesforce.session import ConnectorSession
from sfsync.tokens import MemoryTokenStore
from tests.unit.salesforce.sf_helpers import (
    CONNECTOR,
    INSTANCE,
    NOW,
    TOKEN_URL,
    stored,
    token_answer,
)

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


def test_stamp_slack_is_a_tenth_of_the_period() -> None:
    """The stored refresh time may lag by a tenth of the keep-alive period."""
    assert stamp_slack(WEEK) == WEEK / 10
    assert stamp_slack(timedelta(hours=1)) == timedelta(minutes=6)


def test_refresh_worth_storing_only_when_something_changed_or_the_time_lags() -> None:
    """A rotation or a moved instance is stored at once; the time alone only once it lags by
    the slack, is unknown or is in the future.
    """
    slack = stamp_slack(WEEK)
    recent = stored(refreshed_at=(NOW - slack + timedelta(seconds=1)).isoformat())
    lagging = stored(refreshed_at=(NOW - slack).isoformat())
    assert not refresh_worth_storing(recent, recent.with_refresh(None, INSTANCE, NOW), NOW, slack)
    assert refresh_worth_storing(lagging, lagging.with_refresh(None, INSTANCE, NOW), NOW, slack)
    rotated = recent.with_refresh("5Aep861" + "X" * 80, INSTANCE, NOW)
    assert refresh_worth_storing(recent, rotated, NOW, slack)
    moved = recent.with_refresh(None, "https://acme2.my.salesforce.com", NOW)
    assert refresh_worth_storing(recent, moved, NOW, slack)
    unknown = stored(issued_at="not a time")
    assert refresh_worth_storing(unknown, unknown.with_refresh(None, INSTANCE, NOW), NOW, slack)
    ahead = stored(refreshed_at=(NOW + timedelta(minutes=1)).isoformat())
    assert refresh_worth_storing(ahead, ahead.with_refresh(None, INSTANCE, NOW), NOW, slack)
    assert refresh_worth_storing(
        recent, recent.with_refresh(None, INSTANCE, NOW), NOW, timedelta(0)
    )


@responses.activate
def test_session_skips_writing_a_refresh_that_changed_nothing(
    store: MemoryTokenStore, tmp_path: Path
) -> None:
    """A session with a slack refreshes without writing while the stored time is recent."""
    store.records[CONNECTOR] = stored(refreshed_at=(NOW - timedelta(hours=1)).isoformat())
    responses.post(TOKEN_URL, json=token_answer())
    session = ConnectorSession(
        CONNECTOR,
        store=store,
        http=new_http_session(HttpSettings(timeout=5)),
        state_dir=tmp_path / "state",
        api_version="64.0",
        clock=lambda: NOW,
        stamp_slack=stamp_slack(WEEK),
    )
    assert session.access_token()
    assert store.writes == []
    assert session.record.refreshed_at == NOW.isoformat()
    assert not keep_alive(session, NOW + WEEK - timedelta(seconds=1), WEEK)
