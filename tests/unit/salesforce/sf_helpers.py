"""Test data for the Salesforce unit tests: a stored connector and Salesforce-shaped answers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from sfsync.http_session import HttpSettings, new_http_session
from sfsync.salesforce.session import ConnectorSession
from sfsync.tokens import MemoryTokenStore, StoredAuthorization

INSTANCE = "https://acme.my.salesforce.com"
TOKEN_URL = INSTANCE + "/services/oauth2/token"
IDENTITY = "https://login.salesforce.com/id/00D000000000001EAA/005000000000001AAA"
CONNECTOR = "lightning/sandbox"
REFRESH = "5Aep861" + "R" * 80
ACCESS_OLD = "00D000000000001!AQ" + "o" * 94
ACCESS_NEW = "00D000000000001!AQ" + "n" * 94
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def stored(**changes: object) -> StoredAuthorization:
    """Return a web-flow record for the test connector, with `changes` applied."""
    values: dict[str, object] = {
        "flow": "web",
        "instance_url": INSTANCE,
        "identity_url": IDENTITY,
        "login_url": "https://test.salesforce.com",
        "client_id": "3MVG9client",
        "issued_at": "2026-01-01T00:00:00+00:00",
        "refresh_token": REFRESH,
    }
    values.update(changes)
    return StoredAuthorization(**values)  # type: ignore[arg-type]


def token_answer(access: str = ACCESS_NEW, refresh: str | None = None) -> dict[str, str]:
    """Return a Salesforce token answer (no expires_in, FACTS 1a)."""
    body = {
        "access_token": access,
        "instance_url": INSTANCE,
        "id": IDENTITY,
        "token_type": "Bearer",
        "issued_at": "1767323045000",
        "signature": "c2lnbmF0dXJl",
        "scope": "refresh_token api",
    }
    if refresh is not None:
        body["refresh_token"] = refresh
    return body


def form_of(body: bytes | str | None) -> dict[str, list[str]]:
    """Given a sent request's body, return its urlencoded form fields; fail if it had none."""
    assert body is not None, "the request had no body"
    return parse_qs(body if isinstance(body, str) else body.decode())


def connector_session(store: MemoryTokenStore, tmp_path: Path, **seams: Any) -> ConnectorSession:
    """Return a session for the test connector at NOW over a real requests session (mocked by
    responses), with any other of ConnectorSession's seams given.
    """
    return ConnectorSession(
        CONNECTOR,
        store=store,
        http=new_http_session(HttpSettings(timeout=5)),
        state_dir=tmp_path / "state",
        api_version="64.0",
        clock=lambda: NOW,
        **seams,
    )
