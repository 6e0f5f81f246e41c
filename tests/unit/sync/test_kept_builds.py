"""Which kept builds survive pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sfsync.state.records import BuildRecord
from sfsync.sync.kept_builds import builds_to_keep

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def builds(*letters: str) -> list[BuildRecord]:
    """Return kept builds named by letter, newest first."""
    return [
        BuildRecord("lightning/sandbox", letter * 64, "c" * 64, "v", 10, T0 - timedelta(minutes=i))
        for i, letter in enumerate(letters)
    ]


def test_the_newest_builds_are_kept() -> None:
    """The newest `keep_packages` builds are kept, the older ones are not."""
    assert builds_to_keep(builds("d", "c", "b", "a"), 2, "d" * 64) == {"d" * 64, "c" * 64}


def test_the_live_build_is_kept_however_old() -> None:
    """The live build is kept even when it is older than the newest `keep_packages` (after a
    rollback's failed pushes of newer builds, say).
    """
    assert builds_to_keep(builds("d", "c", "b", "a"), 2, "a" * 64) == {
        "d" * 64,
        "c" * 64,
        "a" * 64,
    }
