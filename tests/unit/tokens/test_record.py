"""The keyring value: SPEC section 6's JSON keys, and nothing secret in its repr."""

from __future__ import annotations

import json

import pytest

from sfsync.errors import TokenStoreError
from sfsync.tokens import MemoryTokenStore, StoredAuthorization

RECORD = StoredAuthorization(
    flow="web",
    instance_url="https://acme.my.salesforce.com",
    identity_url="https://login.salesforce.com/id/00D/005",
    login_url="https://test.salesforce.com",
    client_id="3MVG9",
    issued_at="2026-01-01T00:00:00+00:00",
    refresh_token="5Aep861" + "Q" * 80,
)


def test_json_has_the_spec_keys() -> None:
    """The stored JSON carries refresh_token, instance_url, identity_url, login_url, client_id
    and issued_at, and reads back equal.
    """
    data = json.loads(RECORD.to_json())
    assert {"refresh_token", "instance_url", "identity_url", "login_url", "client_id", "issued_at"}
    assert set(data) >= {
        "refresh_token",
        "instance_url",
        "identity_url",
        "login_url",
        "client_id",
        "issued_at",
    }
    assert StoredAuthorization.from_json(RECORD.to_json(), "a/b") == RECORD


def test_repr_hides_the_refresh_token() -> None:
    """repr() of a record never shows the refresh token (tracebacks, debuggers)."""
    assert RECORD.refresh_token is not None
    assert RECORD.refresh_token not in repr(RECORD)


@pytest.mark.parametrize("text", ["not json", "[]", "{}", '{"flow": "jwt", "client_id": "x"}'])
def test_foreign_values_are_refused(text: str) -> None:
    """A keyring value sfsync did not write is a TokenStoreError naming the entry."""
    with pytest.raises(TokenStoreError, match="sfsync/a/b"):
        StoredAuthorization.from_json(text, "a/b")


def test_memory_store_round_trip() -> None:
    """The in-memory store keeps, returns and deletes records, logging each write."""
    store = MemoryTokenStore()
    store.put("a/b", RECORD)
    assert store.get("a/b") == RECORD
    assert store.delete("a/b")
    assert not store.delete("a/b")
    assert [record for _, record in store.writes] == [RECORD, None, None]
