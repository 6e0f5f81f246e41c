"""The TokenStore protocol: what the session and the commands need from a keyring."""

from __future__ import annotations

from typing import Protocol

from sfsync.tokens.record import StoredAuthorization


class TokenStore(Protocol):
    """Per-connector authorizations, keyed by "system/environment"."""

    def get(self, connector: str) -> StoredAuthorization | None:
        """Return the connector's authorization, or None when it has none."""
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
