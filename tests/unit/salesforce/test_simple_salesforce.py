"""simple-salesforce through the session: an expired session is refreshed once, with a fresh
client (it caches the session id in its headers, FACTS 3c).
"""

from __future__ import annotations

import pytest
import responses

from sfsync.errors import ApiError
from sfsync.salesforce.session import ConnectorSession
from tests.unit.salesforce.sf_helpers import (
    ACCESS_NEW,
    ACCESS_OLD,
    INSTANCE,
    TOKEN_URL,
    token_answer,
)

QUERY = INSTANCE + "/services/data/v64.0/tooling/query/"
EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


@responses.activate
def test_expired_session_refreshes_and_retries(session: ConnectorSession) -> None:
    """SalesforceExpiredSession triggers one refresh and a second run with the new token."""
    session._token = ACCESS_OLD
    responses.get(QUERY, status=401, json=EXPIRED)
    responses.post(TOKEN_URL, json=token_answer())
    responses.get(QUERY, json={"size": 0, "records": []})
    clients = []

    def query(client: object) -> object:
        clients.append(client)
        return client.toolingexecute("query/?q=SELECT+Id+FROM+StaticResource")  # type: ignore[attr-defined]

    assert session.with_salesforce(query) == {"size": 0, "records": []}
    assert clients[0] is not clients[1]
    assert responses.calls[2].request.headers["Authorization"] == f"Bearer {ACCESS_NEW}"
    assert clients[1].base_url.startswith(INSTANCE + "/services/data/v64.0/")  # type: ignore[attr-defined]


@responses.activate
def test_fresh_token_refused_is_api_error(session: ConnectorSession) -> None:
    """If even a fresh token is refused, it is an ApiError, not an endless refresh."""
    session._token = ACCESS_OLD
    responses.get(QUERY, status=401, json=EXPIRED)
    responses.post(TOKEN_URL, json=token_answer())
    with pytest.raises(ApiError, match="api' scope"):
        session.with_salesforce(lambda client: client.toolingexecute("query/?q=x"))
