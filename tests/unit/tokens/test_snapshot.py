"""A cycle's token snapshot: one pass over the keyring for every connector, answers from it
afterwards, writes passed through, and a fresh snapshot sees a new authorization.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sfsync.tokens import MemoryTokenStore, StoredAuthorization
from sfsync.tokens.snapshot import TokenSnapshot


def record(token: str) -> StoredAuthorization:
    """Return an authorization told apart by its refresh token."""
    return StoredAuthorization(
        flow="web",
        instance_url="https://acme.my.salesforce.com",
        identity_url="https://login.salesforce.com/id/00D/005",
        login_url="https://test.salesforce.com",
        client_id="3MVG9client",
        issued_at=datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
        refresh_token=token,
    )


class CountingStore(MemoryTokenStore):
    """A memory store counting passes (get_many) and single reads (get)."""

    def __init__(self, records: dict[str, StoredAuthorization]) -> None:
        super().__init__(records=records)
        self.passes = 0
        self.single_reads = 0

    def get(self, connector: str) -> StoredAuthorization | None:
        """Count a single read."""
        self.single_reads += 1
        return super().get(connector)

    def get_many(self, connectors: Collection[str]) -> dict[str, StoredAuthorization | None]:
        """Count a pass."""
        self.passes += 1
        return {connector: self.records.get(connector) for connector in connectors}


def test_one_pass_answers_every_connector() -> None:
    """Reading each connector twice costs one pass and no single read."""
    inner = CountingStore({"s/a": record("a"), "s/b": record("b")})
    snapshot = TokenSnapshot(inner, ["s/a", "s/b", "s/c"])
    for _ in range(2):
        assert snapshot.get("s/a") == record("a")
        assert snapshot.get("s/b") == record("b")
        assert snapshot.get("s/c") is None
    assert (inner.passes, inner.single_reads) == (1, 0)
    assert snapshot.get("s/outside") is None
    assert snapshot.get("s/outside") is None
    assert inner.single_reads == 1


def test_writes_pass_through_and_are_remembered() -> None:
    """A rotation written through the snapshot is stored and read back from it."""
    inner = CountingStore({"s/a": record("a")})
    snapshot = TokenSnapshot(inner, ["s/a"])
    snapshot.put("s/a", record("before the pass"))
    assert snapshot.get("s/a") == record("before the pass")  # the pass read the stored value
    snapshot.put("s/a", record("rotated"))
    assert inner.records["s/a"] == record("rotated")
    assert snapshot.get("s/a") == record("rotated")
    assert snapshot.delete("s/a")
    assert snapshot.get("s/a") is None
    assert inner.passes == 1


def test_a_new_snapshot_sees_a_new_authorization() -> None:
    """An authorization stored after a snapshot's pass is seen by the next snapshot only."""
    inner = CountingStore({})
    first = TokenSnapshot(inner, ["s/a"])
    assert first.get("s/a") is None
    inner.records["s/a"] = record("authorized")  # `sfsync authorize` in another process
    assert first.get("s/a") is None
    assert TokenSnapshot(inner, ["s/a"]).get("s/a") == record("authorized")
