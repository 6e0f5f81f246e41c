"""The TokenStore on a real `keyring` backend: service "sfsync", user "SYSTEM/ENV", JSON value."""

from __future__ import annotations

import configparser
from collections.abc import Callable, Collection
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.backends.SecretService import Keyring as SecretServiceKeyring
from keyring.errors import KeyringError, PasswordDeleteError

from sfsync.errors import TokenStoreError
from sfsync.tokens.backends import unreadable_cryptfile
from sfsync.tokens.lock import keyring_lock
from sfsync.tokens.record import SERVICE, StoredAuthorization


class KeyringTokenStore:
    """Authorizations kept in one keyring backend; every backend failure is a TokenStoreError.

    Every read and write holds the keyring lock at `lock_path` (see `sfsync.tokens.lock`), so
    that processes sharing a file keyring never write back each other's stale copies.
    """

    def __init__(self, backend: KeyringBackend, lock_path: Path | None = None) -> None:
        self._backend = backend
        self._lock_path = lock_path

    @property
    def file_path(self) -> Path | None:
        """Return the file a file-based backend keeps its values in, else None."""
        path = getattr(self._backend, "file_path", None)
        return Path(path) if isinstance(path, str) else None

    def describe(self) -> str:
        """Return the backend's class name (and file, for file backends)."""
        name = type(self._backend).__name__
        path = getattr(self._backend, "file_path", None)
        return f"{type(self._backend).__module__}.{name}" + (f" at {path}" if path else "")

    def get(self, connector: str) -> StoredAuthorization | None:
        """Return the connector's authorization, or None; raise TokenStoreError if unreadable."""
        try:
            with keyring_lock(self._lock_path):
                text = self._backend.get_password(SERVICE, connector)
        except configparser.Error as error:
            raise unreadable_cryptfile(self.file_path, error) from None
        except (KeyringError, OSError, ValueError) as error:
            raise self._failure("read", connector, error) from None
        return None if text is None else StoredAuthorization.from_json(text, connector)

    def get_many(self, connectors: Collection[str]) -> dict[str, StoredAuthorization | None]:
        """Return each connector's authorization (None when it has none): in one pass where
        the backend allows it (the Secret Service, sfsync's cryptfile), else one by one; raise
        TokenStoreError if the keyring cannot be read.
        """
        read_many = _bulk_reader(self._backend)
        if read_many is None:
            return {connector: self.get(connector) for connector in connectors}
        try:
            with keyring_lock(self._lock_path):
                texts = read_many(SERVICE, connectors)
        except configparser.Error as error:
            raise unreadable_cryptfile(self.file_path, error) from None
        except (KeyringError, OSError, ValueError) as error:
            raise self._failure("read", "*", error) from None
        return {
            connector: StoredAuthorization.from_json(texts[connector], connector)
            if connector in texts
            else None
            for connector in connectors
        }

    def put(self, connector: str, record: StoredAuthorization) -> None:
        """Store the connector's authorization; raise TokenStoreError if the backend refuses."""
        try:
            with keyring_lock(self._lock_path):
                self._backend.set_password(SERVICE, connector, record.to_json())
        except configparser.Error as error:
            raise unreadable_cryptfile(self.file_path, error) from None
        except (KeyringError, OSError, ValueError) as error:
            raise self._failure("write", connector, error) from None

    def delete(self, connector: str) -> bool:
        """Remove the connector's authorization; return whether there was one."""
        try:
            with keyring_lock(self._lock_path):
                self._backend.delete_password(SERVICE, connector)
        except PasswordDeleteError:
            return False
        except configparser.Error as error:
            raise unreadable_cryptfile(self.file_path, error) from None
        except (KeyringError, OSError, ValueError) as error:
            raise self._failure("delete", connector, error) from None
        return True

    def _failure(self, action: str, connector: str, error: Exception) -> TokenStoreError:
        # The message names the entry and the backend, never the value.
        return TokenStoreError(
            f"keyring {self.describe()} could not {action} {SERVICE}/{connector}: "
            f"{type(error).__name__}: {' '.join(str(error).split())}"
        )


def _bulk_reader(
    backend: KeyringBackend,
) -> Callable[[str, Collection[str]], dict[str, str]] | None:
    """Return the backend's way to read many values in one pass (given a service and user
    names, the value of each that has one), or None if it has none.
    """
    if isinstance(backend, SecretServiceKeyring):
        # secretstorage is installed only where the Secret Service is (Linux).
        from sfsync.tokens.secret_service import read_passwords  # noqa: PLC0415

        return lambda service, usernames: read_passwords(backend, service, usernames)
    # sfsync's cryptfile (`FastCryptFileKeyring.get_passwords`): one parse of the file; its
    # module is not imported here, keyrings.cryptfile being optional.
    read_many = getattr(backend, "get_passwords", None)
    return read_many if callable(read_many) else None
