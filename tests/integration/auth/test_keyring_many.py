"""Reading many authorizations from a real Secret Service in one pass gives what reading them
one by one gives, including a record written by another client meanwhile.
"""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import keyring.backends.SecretService
import pytest
from secretstorage.exceptions import ItemNotFoundException
from secretstorage.util import DBusAddressWrapper, open_session

from sfsync.config.schema import KeyringSettings
from sfsync.tokens.backends import open_backend
from sfsync.tokens.keyring_store import KeyringTokenStore
from sfsync.tokens.record import StoredAuthorization
from sfsync.tokens.secret_service import read_passwords


def record(index: int) -> StoredAuthorization:
    """Return a web-flow authorization told apart by its refresh token."""
    return StoredAuthorization(
        flow="web",
        instance_url="https://acme.my.salesforce.com",
        identity_url="https://login.salesforce.com/id/00D/005",
        login_url="https://test.salesforce.com",
        client_id="3MVG9client",
        issued_at=datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
        refresh_token=f"5Aep861-{index}",
    )


def test_get_many_matches_get_and_sees_new_writes(secret_service_env: dict[str, str]) -> None:
    """get_many answers each connector as get does, None for the missing, and reads afresh."""
    store = KeyringTokenStore(
        open_backend(KeyringSettings(backend="keyring.backends.SecretService.Keyring"))
    )
    names = [f"lightning/env{index}" for index in range(5)]
    for index, name in enumerate(names[:4]):
        store.put(name, record(index))
    # Another service's entry under a connector's name is not an authorization.
    keyring.backends.SecretService.Keyring().set_password("other", names[4], "not json")
    many = store.get_many([*names, "lightning/unknown"])
    assert many == {name: store.get(name) for name in [*names, "lightning/unknown"]}
    assert many[names[0]] == record(0)
    assert many[names[4]] is None
    store.put(names[4], record(4))  # as `sfsync authorize` would, from another process
    assert store.get_many(names)[names[4]] == record(4)


def test_one_pass_reads_every_length_and_the_first_duplicate(
    secret_service_env: dict[str, str],
) -> None:
    """The pass's values come decrypted from one encrypted session, whatever their length
    against the cipher's 16-byte blocks, non-ASCII included; of two items for one user name,
    one is read (the first the search gives, as `get_password` takes the first of its own
    search; the service orders its answers as it likes).
    """
    del secret_service_env
    backend = keyring.backends.SecretService.Keyring()
    values = {f"user{n}": "é" + "x" * n for n in (0, 13, 14, 15, 16, 31, 200)}
    for username, value in values.items():
        backend.set_password("sfsync-many", username, value)
    collection = backend.get_preferred_collection()
    with closing(collection.connection):
        assert open_session(collection.connection).encrypted
        # A second item for user0, as another client may leave one (replace=False).
        attributes = {**backend._query("sfsync-many", "user0"), "extra": "second"}
        collection.create_item("duplicate", attributes, b"second", replace=False)
    read = read_passwords(backend, "sfsync-many", [*values, "absent"])
    assert read.pop("user0") in {values.pop("user0"), "second"}
    assert read == values
    assert read == {username: backend.get_password("sfsync-many", username) for username in values}


def test_a_service_without_get_secrets_is_read_item_by_item(
    secret_service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Secret Service that does not know `GetSecrets` (an unknown method) still gives every
    value, each item read as keyring reads it.
    """
    del secret_service_env
    backend = keyring.backends.SecretService.Keyring()
    values = {f"user{n}": f"value-{n}" for n in range(3)}
    for username, value in values.items():
        backend.set_password("sfsync-many", username, value)
    calls = DBusAddressWrapper.call

    def without_get_secrets(self: DBusAddressWrapper, method: str, *args: Any) -> Any:
        if method == "GetSecrets":
            raise ItemNotFoundException("org.freedesktop.DBus.Error.UnknownMethod")
        return calls(self, method, *args)

    monkeypatch.setattr(DBusAddressWrapper, "call", without_get_secrets)
    assert read_passwords(backend, "sfsync-many", values) == values
