"""The TokenStore protocol: what the session and the commands need from a keyring."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol

from sfsync.tokens.record import StoredAuthorization


class TokenStore(Protocol):
    """Per-connector authorizations, keyed by "system/environment"."""

    def get(self, connector: str) -> StoredAuthorization | None:
        """Return the connector's authorization, or None when it has none."""
        ...

    def get_many(self, connectors: Collection[str]) -> Mapping[str, StoredAuthorization | None]:
        """Return each connector's authorization (None when it has none), in one pass over the
        backend where it allows.
        """
        ...

    def put(self, connector: str, record: StoredAuthorization) -> None:
        """Store the connector's authorization, replacing any earlier one, before returning."""
        ...

    def delete(self, connector: str) -> bool:
        """Remove the connector's authorization; return whether there was one."""
        ...

    def describe(self) -> str:
        """Return the backend's name for messages ("SecretService", "CryptFileKeyring at ...")."""
        ...
