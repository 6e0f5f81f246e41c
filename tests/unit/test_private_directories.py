"""Folders sfsync creates are private, all the way down; a folder it did not create is left as is
unless it is one only sfsync uses.
"""

from __future__ import annotations

import stat
from pathlib import Path

from sfsync.files import make_private_directories


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_created_folder_is_0700(tmp_path: Path) -> None:
    """Missing parents are made 0700 too, not left to the umask."""
    make_private_directories(tmp_path / "a" / "b" / "c")
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert _mode(folder) == 0o700, folder


def test_existing_folder_is_tightened_only_when_asked(tmp_path: Path) -> None:
    """An existing 0755 folder keeps its mode by default and becomes 0700 with `tighten`."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    make_private_directories(shared)
    assert _mode(shared) == 0o755
    make_private_directories(shared, tighten=True)
    assert _mode(shared) == 0o700
