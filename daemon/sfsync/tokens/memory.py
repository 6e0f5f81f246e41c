"""An in-memory TokenStore for tests: a real stand-in, not a mock."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sfsync.tokens.record import StoredAuthorization


@dataclass
class MemoryTokenStore:
    """Keeps authorizations in a dict and logs every write, so tests can check their order."""

    records: dict[str, StoredAuthorization] = field(default_factory=dict)
    writes: list[tuple[str, StoredAuthorization | None]] = field(default_factory=list)

    def get(self, connector: str) -> StoredAuthorization | None:
        """Return the connector's authorization, or None."""
        return self.records.get(connector)

    def get_many(self, connectors: Collection[str]) -> dict[str, StoredAuthorization | None]:
        """Return each connector's authorization, or None."""
        return {connector: self.records.get(connector) for connector in connectors}

    def put(self, connector: str, record: StoredAuthorization) -> None:
        """Store the connector's authorization."""
        self.records[connector] = record
        self.writes.append((connector, record))

    def delete(self, connector: str) -> bool:
        """Remove the connector's authorization; return whether there was one."""
        self.writes.append((connector, None))
        return self.records.pop(connector, None) is not None

    def describe(self) -> str:
        """Return "memory"."""
        return "memory"
