"""The book of token proofs: the latest grant per connector, written to the state store in one
go and forgotten once written, kept when the store refuses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sfsync.errors import StateError
from sfsync.state.proofs import TokenProofs
from sfsync.state.store import StateStore

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def test_the_latest_grant_is_kept() -> None:
    """A connector's proofs keep the latest grant, whatever order they are noted in."""
    proofs = TokenProofs()
    proofs.note("a/sandbox", T0)
    proofs.note("a/sandbox", T0 - timedelta(minutes=1))
    proofs.note("b/sandbox", T0 - timedelta(minutes=2))
    assert proofs.pending() == {"a/sandbox": T0, "b/sandbox": T0 - timedelta(minutes=2)}


def test_written_proofs_are_in_the_store_and_forgotten(tmp_path: Path) -> None:
    """Writing puts every pending proof in the store and leaves none pending."""
    proofs = TokenProofs()
    proofs.note("a/sandbox", T0)
    proofs.note("b/sandbox", T0 + timedelta(seconds=1))
    store = StateStore.open(tmp_path)
    try:
        proofs.write_to(store)
        states = store.connectors(["a/sandbox", "b/sandbox"])
    finally:
        store.close()
    assert states["a/sandbox"].token_proven_at == T0
    assert states["b/sandbox"].token_proven_at == T0 + timedelta(seconds=1)
    assert proofs.pending() == {}


def test_a_refused_write_keeps_the_proofs(tmp_path: Path) -> None:
    """A store that cannot be written raises StateError and the proofs stay pending."""
    proofs = TokenProofs()
    proofs.note("a/sandbox", T0)
    store = StateStore.open(tmp_path)
    store.close()
    with pytest.raises(StateError):
        proofs.write_to(store)
    assert proofs.pending() == {"a/sandbox": T0}
