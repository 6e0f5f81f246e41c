"""Kept builds on disk: private, atomic, found by hash prefix, pruned to what is kept."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sfsync.errors import StateError, UsageError
from sfsync.state.packages import PackageArchive

CONNECTOR = "lightning/sandbox"


def test_saved_build_is_private_and_loadable(tmp_path: Path) -> None:
    """A kept build is 0600 in 0700 folders and reads back byte for byte."""
    archive = PackageArchive(tmp_path)
    path = archive.save(CONNECTOR, "ab" * 32, b"zip bytes")
    assert archive.load(CONNECTOR, "ab" * 32) == b"zip bytes"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (tmp_path / "packages", path.parent.parent, path.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [item.name for item in path.parent.iterdir()] == [path.name], "no temp file left"


def test_a_build_saved_from_pieces_is_kept_as_their_join(tmp_path: Path) -> None:
    """A build handed over as pieces (as a push hands it) is kept as the ZIP they join into."""
    archive = PackageArchive(tmp_path)
    pieces = (b"PK\x03\x04", b"", b"member " * 1000, b"central", b"end")
    archive.save(CONNECTOR, "cd" * 32, pieces)
    assert archive.load(CONNECTOR, "cd" * 32) == b"".join(pieces)


def test_prefix_resolution(tmp_path: Path) -> None:
    """A hash prefix finds exactly one kept build, or says why not."""
    archive = PackageArchive(tmp_path)
    archive.save(CONNECTOR, "abc1" + "0" * 60, b"1")
    archive.save(CONNECTOR, "abc2" + "0" * 60, b"2")
    assert archive.resolve_prefix(CONNECTOR, "ABC1") == "abc1" + "0" * 60
    with pytest.raises(UsageError, match="2 kept builds start with 'abc'"):
        archive.resolve_prefix(CONNECTOR, "abc")
    with pytest.raises(UsageError, match="no kept build starts with 'ffff'"):
        archive.resolve_prefix(CONNECTOR, "ffff")


def test_prune_keeps_only_what_is_asked(tmp_path: Path) -> None:
    """Pruning removes every kept build not in the keep set, and only those."""
    archive = PackageArchive(tmp_path)
    for letter in "abc":
        archive.save(CONNECTOR, letter * 64, letter.encode())
    removed = archive.prune(CONNECTOR, keep={"a" * 64, "c" * 64})
    assert removed == ["b" * 64]
    assert archive.kept(CONNECTOR) == ["a" * 64, "c" * 64]


def test_missing_build_is_a_state_error(tmp_path: Path) -> None:
    """Loading a build that is not kept names its path."""
    with pytest.raises(StateError, match="cannot be read"):
        PackageArchive(tmp_path).load(CONNECTOR, "f" * 64)
