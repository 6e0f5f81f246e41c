"""The authorizations as one cycle sees them: read in one pass, then answered from memory.

A cycle asks for every connector's authorization at least once (to decide) and the daemon once
more (for /healthz and the authorized gauge). Asking the keyring each time cost a D-Bus round
of connection, session and search per question with the Secret Service. A snapshot lives for
one cycle only, so a new `sfsync authorize` is seen by the next cycle, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable

from sfsync.tokens.record import StoredAuthorization
from sfsync.tokens.store import TokenStore


class TokenSnapshot:
    """A TokenStore that reads the given connectors' authorizations in one pass at its first
    read and answers from that; writes go through to the store and are remembered.
    """

    def __init__(self, inner: TokenStore, connectors: Iterable[str]) -> None:
        self._inner = inner
        self._connectors = tuple(connectors)
        self._lock = threading.Lock()
        self._records: dict[str, StoredAuthorization | None] | None = None

    def describe(self) -> str:
        """Return the inner store's description."""
        return self._inner.describe()

    def read(self) -> None:
        """Make the pass now, if it was not made yet; raise TokenStoreError if it fails."""
        with self._lock:
            # Held during the pass: the other threads of the cycle wait for it, not repeat it.
            if self._records is None:
                self._records = dict(self._inner.get_many(self._connectors))

    def get(self, connector: str) -> StoredAuthorization | None:
        """Return the connector's authorization as read in this snapshot's pass (a connector
        outside it is read on its own, once).
        """
        self.read()
        with self._lock:
            if self._records is not None and connector in self._records:
                return self._records[connector]
        record = self._inner.get(connector)
        self._remember(connector, record)
        return record

    def get_many(self, connectors: Collection[str]) -> dict[str, StoredAuthorization | None]:
        """Return each connector's authorization, as `get` does."""
        return {connector: self.get(connector) for connector in connectors}

    def put(self, connector: str, record: StoredAuthorization) -> None:
        """Store the authorization and remember it."""
        self._inner.put(connector, record)
        self._remember(connector, record)

    def delete(self, connector: str) -> bool:
        """Remove the connector's authorization and remember that it has none."""
        existed = self._inner.delete(connector)
        self._remember(connector, None)
        return existed

    def _remember(self, connector: str, record: StoredAuthorization | None) -> None:
        with self._lock:
            # Before the pass, there is nothing to update: the pass will read the new value.
            if self._records is not None:
                self._records[connector] = record
