"""Reading many values from the Secret Service in one pass.

keyring's Secret Service backend opens a D-Bus connection and negotiates an encrypted session (a
Diffie-Hellman exchange) for every value it reads; with 200 connectors, a daemon cycle spent a
third of its CPU there. Here one connection and one session serve every read of a pass, with the
same attributes, the same unlocking and the same first-item-wins rule as `get_password`.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import closing

from keyring.backends.SecretService import Keyring as SecretServiceKeyring
from keyring.errors import KeyringError
from secretstorage.exceptions import SecretStorageException
from secretstorage.util import open_session


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
    found: dict[str, str] = {}
    # keyring's own opening (and unlocking) of the collection; keyring is untyped there.
    collection = backend.get_preferred_collection()  # type: ignore[no-untyped-call]
    with closing(collection.connection):
        try:
            collection.session = open_session(collection.connection)  # shared by its items
            for item in collection.search_items(query):
                username = item.get_attributes().get(username_key)
                if username is None or username not in wanted or username in found:
                    continue
                backend.unlock(item)  # type: ignore[no-untyped-call]
                found[username] = item.get_secret().decode("utf-8")
        except SecretStorageException as error:
            raise KeyringError(f"Secret Service: {error}") from error
    return found
