"""Reading a Static Resource's body back (verify, and the check after a write that got no
answer): the bytes as served, and a resource gone from the org told apart from other failures.
"""

from __future__ import annotations

import pytest
import responses

from sfsync.errors import ApiError
from sfsync.salesforce.retry import TransientApiError
from sfsync.salesforce.session import ConnectorSession
from sfsync.salesforce.tooling import ResourceNotFoundError, ToolingClient
from tests.unit.salesforce.sf_helpers import ACCESS_OLD, INSTANCE

BODY = INSTANCE + "/services/data/v64.0/tooling/sobjects/StaticResource/081xx0000000001/Body"
MISSING = [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


@pytest.fixture
def client(session: ConnectorSession) -> ToolingClient:
    session._token = ACCESS_OLD
    return ToolingClient(session)


@responses.activate
def test_body_is_returned_as_served(client: ToolingClient) -> None:
    responses.get(BODY, body=b"PK\x03\x04 zip bytes", content_type="application/zip")
    assert client.download_body("081xx0000000001") == b"PK\x03\x04 zip bytes"


@responses.activate
def test_a_deleted_resource_is_not_found(client: ToolingClient) -> None:
    """404: the Id is gone (deleted in the org), which the caller handles by looking it up."""
    responses.get(BODY, status=404, json=MISSING)
    with pytest.raises(ResourceNotFoundError, match="HTTP 404 NOT_FOUND: The requested"):
        client.download_body("081xx0000000001")


@pytest.mark.parametrize(("status", "error"), [(503, TransientApiError), (400, ApiError)])
@responses.activate
def test_other_failures_keep_their_kind(
    client: ToolingClient, status: int, error: type[Exception]
) -> None:
    responses.get(BODY, status=status, json=[{"message": "no", "errorCode": "X"}])
    with pytest.raises(error) as raised:
        client.download_body("081xx0000000001")
    assert not isinstance(raised.value, ResourceNotFoundError)


@responses.activate
def test_a_spent_budget_is_retryable(client: ToolingClient) -> None:
    """REQUEST_LIMIT_EXCEEDED (403) on the read is transient, as on every other call."""
    spent = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    responses.get(BODY, status=403, json=spent)
    with pytest.raises(TransientApiError, match="REQUEST_LIMIT_EXCEEDED: TotalRequests"):
        client.download_body("081xx0000000001")


@responses.activate
def test_a_non_json_failure_keeps_its_text(client: ToolingClient) -> None:
    responses.get(BODY, status=400, body="<html>bad gateway page</html>")
    with pytest.raises(ApiError, match="HTTP 400: <html>bad gateway page"):
        client.download_body("081xx0000000001")
