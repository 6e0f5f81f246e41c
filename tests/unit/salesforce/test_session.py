"""The per-connector session: refresh on 401, one retry, error shapes, rotation, threads."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from sfsync.errors import (
    AuthorizationError,
    OAuthServerError,
    SalesforceUnreachableError,
    TokenStoreError,
)
from sfsync.http_session import HttpSettings, new_http_session
from sfsync.salesforce.session import ConnectorSession
from sfsync.tokens import MemoryTokenStore
from tests.unit.salesforce.sf_helpers import (
    ACCESS_NEW,
    ACCESS_OLD,
    CONNECTOR,
    INSTANCE,
    REFRESH,
    TOKEN_URL,
    form_of,
    stored,
    token_answer,
)

LIMITS = INSTANCE + "/services/data/v64.0/limits"
EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def _bearer(token: str) -> list[matchers.Any]:  # type: ignore[name-defined]
    return [matchers.header_matcher({"Authorization": f"Bearer {token}"})]


@responses.activate
def test_first_call_refreshes_then_sends_bearer(session: ConnectorSession) -> None:
    """With no access token yet, the session refreshes once and sends the new token."""
    responses.post(TOKEN_URL, json=token_answer())
    responses.get(LIMITS, json={}, match=_bearer(ACCESS_NEW))
    assert session.request("GET", "/services/data/v64.0/limits").status_code == 200
    form = form_of(responses.calls[0].request.body)
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH],
        "client_id": ["3MVG9client"],
    }


@responses.activate
def test_401_refreshes_and_retries_once(session: ConnectorSession) -> None:
    """A 401 INVALID_SESSION_ID gets one refresh and one retry with the new token."""
    session._token = ACCESS_OLD
    responses.get(LIMITS, status=401, json=EXPIRED, match=_bearer(ACCESS_OLD))
    responses.post(TOKEN_URL, json=token_answer())
    responses.get(LIMITS, json={"ok": 1}, match=_bearer(ACCESS_NEW))
    response = session.request("GET", LIMITS)
    assert response.json() == {"ok": 1}
    assert [call.request.method for call in responses.calls] == ["GET", "POST", "GET"]


@responses.activate
def test_second_401_is_returned_not_retried_again(session: ConnectorSession) -> None:
    """After one refresh and retry, a second 401 is handed back: no refresh loop."""
    session._token = ACCESS_OLD
    responses.get(LIMITS, status=401, json=EXPIRED)
    responses.post(TOKEN_URL, json=token_answer())
    assert session.request("GET", LIMITS).status_code == 401
    assert len(responses.calls) == 3


@responses.activate
def test_invalid_grant_marks_connector_needing_authorization(
    session: ConnectorSession,
) -> None:
    """A refresh answered invalid_grant raises AuthorizationError and marks the connector."""
    responses.post(
        TOKEN_URL,
        status=400,
        json={"error": "invalid_grant", "error_description": "expired access/refresh token"},
    )
    with pytest.raises(AuthorizationError, match=r"lightning/sandbox.*invalid_grant.*authorize"):
        session.access_token()
    assert session.needs_authorization
    with pytest.raises(AuthorizationError, match="needs authorization"):
        session.access_token()
    assert len(responses.calls) == 1  # no second attempt with a dead refresh token


@responses.activate
def test_invalid_client_names_the_client_id(session: ConnectorSession) -> None:
    """invalid_client points at [oauth] client_id, not at re-authorizing."""
    responses.post(
        TOKEN_URL,
        status=400,
        json={"error": "invalid_client_id", "error_description": "client identifier invalid"},
    )
    with pytest.raises(AuthorizationError, match=r"client_id"):
        session.access_token()


@responses.activate
def test_5xx_during_refresh_is_transient(session: ConnectorSession) -> None:
    """A 503 from the token endpoint is an OAuthServerError; the connector is not marked."""
    responses.post(TOKEN_URL, status=503, body="<html>maintenance</html>")
    with pytest.raises(OAuthServerError, match="HTTP 503"):
        session.access_token()
    assert not session.needs_authorization


@responses.activate
def test_malformed_json_during_refresh(session: ConnectorSession) -> None:
    """A 200 whose body is not JSON is an OAuthServerError, not a crash."""
    responses.post(TOKEN_URL, status=200, body="{not json", content_type="application/json")
    with pytest.raises(OAuthServerError, match="not a JSON object"):
        session.access_token()


@responses.activate
def test_answer_without_access_token(session: ConnectorSession) -> None:
    """A JSON answer lacking access_token is an OAuthServerError naming the key."""
    responses.post(TOKEN_URL, json={"instance_url": INSTANCE})
    with pytest.raises(OAuthServerError, match="access_token"):
        session.access_token()


@responses.activate
def test_connection_error_is_unreachable(session: ConnectorSession) -> None:
    """No answer at all is SalesforceUnreachableError, and nothing is marked."""
    responses.post(TOKEN_URL, body=requests.ConnectionError("reset"))
    with pytest.raises(SalesforceUnreachableError):
        session.access_token()
    assert not session.needs_authorization


@responses.activate
def test_rotation_is_stored_before_the_new_token_is_used(
    session: ConnectorSession, store: MemoryTokenStore
) -> None:
    """A rotated refresh token is in the keyring before any call uses the new access token."""
    rotated = "5Aep861" + "X" * 80
    responses.post(TOKEN_URL, json=token_answer(refresh=rotated))
    seen: list[str | None] = []

    def api(_request: object) -> tuple[int, dict[str, str], str]:
        record = store.get(CONNECTOR)
        seen.append(record.refresh_token if record else None)
        return 200, {}, "{}"

    responses.add_callback(responses.GET, LIMITS, callback=api)
    session.request("GET", LIMITS)
    assert seen == [rotated]
    assert store.writes[-1][1] is not None
    assert store.writes[-1][1].refresh_token == rotated


@responses.activate
def test_failed_keyring_write_means_token_unused(
    session: ConnectorSession, store: MemoryTokenStore
) -> None:
    """If the rotated token cannot be stored, the new access token is never used."""

    def refuse(*_args: object) -> None:
        raise TokenStoreError("keyring locked")

    store.put = refuse  # type: ignore[method-assign,assignment]
    responses.post(TOKEN_URL, json=token_answer(refresh="5Aep861" + "Y" * 80))
    with pytest.raises(TokenStoreError):
        session.request("GET", LIMITS)
    assert session._token is None
    assert len(responses.calls) == 1


@responses.activate
def test_rereads_keyring_under_lock(session: ConnectorSession, store: MemoryTokenStore) -> None:
    """A refresh uses the refresh token in the keyring now, as another process may rotate it."""
    other = "5Aep861" + "Z" * 80
    session.record  # noqa: B018 - load the record, then let "another process" rotate it
    store.records[CONNECTOR] = stored(refresh_token=other)
    responses.post(TOKEN_URL, json=token_answer())
    session.access_token()
    assert form_of(responses.calls[0].request.body)["refresh_token"] == [other]


@responses.activate
def test_concurrent_401s_refresh_once(session: ConnectorSession) -> None:
    """Eight threads hitting an expired session cause exactly one refresh."""
    session._token = ACCESS_OLD
    refreshes = []

    def token(_request: object) -> tuple[int, dict[str, str], str]:
        refreshes.append(1)
        time.sleep(0.05)  # widen the race window
        return 200, {}, json.dumps(token_answer())

    responses.get(LIMITS, status=401, json=EXPIRED, match=_bearer(ACCESS_OLD))
    responses.get(LIMITS, json={}, match=_bearer(ACCESS_NEW))
    responses.add_callback(responses.POST, TOKEN_URL, callback=token)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(session.request("GET", LIMITS).status_code))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 8
    assert len(refreshes) == 1


@responses.activate
def test_two_sessions_share_the_file_lock(store: MemoryTokenStore, tmp_path: Path) -> None:
    """Two sessions of one connector (as two processes would be) never refresh at once."""
    active = []
    overlap = []

    def token(_request: object) -> tuple[int, dict[str, str], str]:
        active.append(1)
        overlap.append(len(active))
        time.sleep(0.05)
        active.pop()
        return 200, {}, json.dumps(token_answer())

    responses.add_callback(responses.POST, INSTANCE + "/services/oauth2/token", callback=token)
    sessions = [
        ConnectorSession(
            CONNECTOR,
            store=store,
            http=new_http_session(HttpSettings()),
            state_dir=tmp_path,
            api_version="64.0",
        )
        for _ in range(4)
    ]
    threads = [threading.Thread(target=item.access_token) for item in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlap == [1, 1, 1, 1]


@responses.activate
def test_unauthorized_connector(tmp_path: Path) -> None:
    """A connector without a keyring entry needs authorization, and says how."""
    session = ConnectorSession(
        CONNECTOR,
        store=MemoryTokenStore(),
        http=new_http_session(HttpSettings()),
        state_dir=tmp_path,
        api_version="64.0",
    )
    with pytest.raises(AuthorizationError, match="authorize --env sandbox --system lightning"):
        session.request("GET", "/x")
    assert session.needs_authorization
