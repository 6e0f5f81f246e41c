"""Reading many values from the Secret Service in one pass.

keyring's Secret Service backend opens a D-Bus connection and negotiates an encrypted session (a
Diffie-Hellman exchange) for every value it reads; with 200 connectors, a daemon cycle spent a
third of its CPU there. Here one connection and one session serve every read of a pass, with the
same attributes, the same unlocking and the same rule as `get_password` for a user name with
several items: the first the search gives wins (the service orders its answers as it likes).

secretstorage's items cost four D-Bus calls each (their label on creation, attributes, locked
state, secret). Here each item costs one (its attributes); the secrets of all of them come in one
`GetSecrets` call, which the Secret Service specification provides for this. An item whose
secret that call does not return (a locked one), or every item if a service refuses the call,
is read as keyring reads it, unlocking first.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import closing
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from jeepney.wrappers import DBusErrorResponse  # type: ignore[import-untyped]
from keyring.backends.SecretService import Keyring as SecretServiceKeyring
from keyring.errors import KeyringError
from secretstorage.defines import SS_PATH, SS_PREFIX
from secretstorage.dhcrypto import Session
from secretstorage.exceptions import ItemNotFoundException, SecretStorageException
from secretstorage.item import Item
from secretstorage.util import DBusAddressWrapper, open_session


def read_passwords(
    backend: SecretServiceKeyring, service: str, usernames: Collection[str]
) -> dict[str, str]:
    """Given keyring's Secret Service backend, a service and user names, return the password
    of each user name that has one (the others are absent), read over one D-Bus connection.

    Raise KeyringError (`KeyringLocked` if an item stays locked, `InitError` if the service
    cannot be reached) or OSError.
    """
    wanted = set(usernames)
    # The backend's own attribute names: keyring's schemes rename them (KeePassXC).
    query = backend._query(service)  # noqa: SLF001 - the backend's attribute scheme, as it searches
    username_key = backend.schemes[backend.scheme]["username"]
    # keyring's own opening (and unlocking) of the collection; keyring is untyped there.
    collection = backend.get_preferred_collection()  # type: ignore[no-untyped-call]
    connection = collection.connection
    with closing(connection):
        try:
            session = open_session(connection)
            searched = DBusAddressWrapper(
                collection.collection_path, SS_PREFIX + "Collection", connection
            )
            (paths,) = searched.call("SearchItems", "a{ss}", query)
            chosen: dict[str, str] = {}  # item path -> user name, the first item of each
            for path in paths:
                item = DBusAddressWrapper(path, SS_PREFIX + "Item", connection)
                username = item.get_property("Attributes").get(username_key)
                if username in wanted:
                    chosen[path] = username
                    wanted.discard(username)
            service = DBusAddressWrapper(SS_PATH, SS_PREFIX + "Service", connection)
            try:
                (secrets,) = service.call("GetSecrets", "aoo", list(chosen), session.object_path)
            except (DBusErrorResponse, ItemNotFoundException):
                # A service without the call (an unknown method comes as ItemNotFoundException)
                # or refusing it whole: each item is read on its own.
                secrets = {}
            found: dict[str, str] = {}
            for path, username in chosen.items():
                secret = secrets.get(path)
                if secret is not None:
                    value = _open_secret(session, secret)
                else:
                    locked = Item(connection, path, session)
                    backend.unlock(locked)  # type: ignore[no-untyped-call]
                    value = locked.get_secret()
                found[username] = value.decode("utf-8")
        except SecretStorageException as error:
            raise KeyringError(f"Secret Service: {error}") from error
    return found


def _open_secret(session: Session, secret: tuple[Any, ...]) -> bytes:
    """Given the session and a secret as the Secret Service sends it (session, parameters,
    value, content type), return the value, decrypted as the specification's
    dh-ietf1024-sha256-aes128-cbc-pkcs7 says when the session is encrypted.
    """
    _session_path, parameters, value, _content_type = secret
    if not session.encrypted:
        return bytes(value)
    if session.aes_key is None:
        raise SecretStorageException("the Secret Service session has no key")
    decryptor = Cipher(algorithms.AES(session.aes_key), modes.CBC(bytes(parameters))).decryptor()
    padded = decryptor.update(bytes(value)) + decryptor.finalize()
    pad = padded[-1] if padded else 0
    if not 1 <= pad <= len(padded) or padded[-pad:] != bytes([pad]) * pad:
        raise SecretStorageException("a secret from the Secret Service is not padded")
    return padded[:-pad]
