"""The Static Resource writes send their JSON body as bytes built once, with the same headers,
session handling and error routing as simple-salesforce's toolingexecute.
"""

from __future__ import annotations

import base64
import json

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from sfsync.salesforce.session import ConnectorSession
from sfsync.salesforce.tooling import (
    DuplicateResourceError,
    ResourceBody,
    ToolingClient,
    aligned_chunks,
)
from tests.unit.salesforce.sf_helpers import (
    ACCESS_NEW,
    ACCESS_OLD,
    INSTANCE,
    TOKEN_URL,
    token_answer,
)

SOBJECTS = INSTANCE + "/services/data/v64.0/tooling/sobjects/StaticResource"


def sent_body(body: object) -> bytes:
    """Return a sent request's body as bytes: requests types it as bytes, str or None, while
    sfsync sends a ResourceBody (streamed in pieces, whole through `bytes()`).
    """
    assert isinstance(body, ResourceBody | bytes), body
    return bytes(body)


EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
ZIP = bytes(range(256)) * 3000  # over two pieces, and not a multiple of 3


def test_resource_body_is_the_json_of_the_fields_and_the_base64_body() -> None:
    """The pieces parse as the fields plus a base64 "Body" holding the data exactly; the
    declared length is the pieces' length, and a second iteration gives the same bytes.
    """
    fields = {"Name": "Guide", "Description": 'quote " and \u00e9'}
    for data in (ZIP, ZIP[:-1], ZIP[:-2], b"x", b""):
        body = ResourceBody(fields, data)
        whole = b"".join(body)
        assert len(body) == len(whole)
        assert bytes(body) == whole
        assert json.loads(whole) == {**fields, "Body": base64.b64encode(data).decode("ascii")}
    assert json.loads(bytes(ResourceBody({}, b"ab"))) == {"Body": "YWI="}


def test_a_body_from_pieces_is_the_body_of_their_join() -> None:
    """A build's pieces (small ones, and large ones not ending on a multiple of 3) give the
    same body, byte for byte and in declared length, as the joined ZIP does.
    """
    pieces = (b"PK", ZIP[:-1], b"", b"abcd", ZIP, b"e", ZIP[:-2], b"end")
    fields = {"Name": "Guide"}
    joined = ResourceBody(fields, b"".join(pieces))
    split = ResourceBody(fields, pieces)
    assert len(split) == len(joined)
    assert b"".join(split) == b"".join(joined)


@given(
    pieces=st.lists(st.binary(max_size=40), max_size=12),
    size=st.integers(1, 6).map(lambda n: 3 * n),
)
def test_aligned_chunks_encode_to_the_base64_of_the_whole(pieces: list[bytes], size: int) -> None:
    """However the bytes are cut, the chunks hold them in order, none over `size`, all but the
    last a multiple of 3, so their base64 joined is the base64 of the whole.
    """
    chunks = [bytes(chunk) for chunk in aligned_chunks(pieces, size)]
    assert b"".join(chunks) == b"".join(pieces)
    assert all(0 < len(chunk) <= size for chunk in chunks)
    assert all(len(chunk) % 3 == 0 for chunk in chunks[:-1])
    encoded = b"".join(base64.b64encode(chunk) for chunk in chunks)
    assert encoded == base64.b64encode(b"".join(pieces))


@responses.activate
def test_update_sends_bytes_and_refreshes_an_expired_session(session: ConnectorSession) -> None:
    """A PATCH answered INVALID_SESSION_ID is sent again, whole, after one refresh."""
    session._token = ACCESS_OLD
    url = f"{SOBJECTS}/081000000000001"
    responses.patch(url, status=401, json=EXPIRED)
    responses.post(TOKEN_URL, json=token_answer())
    responses.patch(url, status=204)
    ToolingClient(session).update_body(
        "081000000000001", ZIP, cache_control="Public", description="sfsync test"
    )
    sent = responses.calls[2].request
    assert sent.headers["Authorization"] == f"Bearer {ACCESS_NEW}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Content-Length"] == str(len(sent_body(sent.body)))
    assert base64.b64decode(json.loads(sent_body(sent.body))["Body"]) == ZIP
    assert sent_body(responses.calls[0].request.body) == sent_body(sent.body)


@responses.activate
def test_create_returns_the_id_and_routes_errors(session: ConnectorSession) -> None:
    """A create answers the new Id; a duplicate name is a DuplicateResourceError."""
    session._token = ACCESS_OLD
    responses.post(SOBJECTS, status=201, json={"id": "081000000000002", "success": True})
    client = ToolingClient(session)
    assert client.create_resource("Guide", ZIP, cache_control="Public", description="d") == (
        "081000000000002"
    )
    body = json.loads(sent_body(responses.calls[0].request.body))
    assert body["Name"] == "Guide"
    assert body["ContentType"] == "application/zip"
    responses.post(
        SOBJECTS,
        status=400,
        json=[{"message": "duplicate value found", "errorCode": "DUPLICATE_VALUE"}],
    )
    with pytest.raises(DuplicateResourceError, match="DUPLICATE_VALUE"):
        client.create_resource("Guide", ZIP, cache_control="Public", description="d")
