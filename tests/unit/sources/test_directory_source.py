"""A drop folder looked at as a source: the settled package, its signature and the wait for a
newer publish still being written.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from sfsync.errors import NothingPublishedError
from sfsync.sources.directory import DirectorySource
from sfsync.sources.source import Package

NOW = 1_900_000_000.0
SETTLE = timedelta(seconds=30)


def publish(folder: Path, name: str, age: float) -> Path:
    """Write a package file into the folder, last modified `age` seconds before NOW."""
    path = folder / name
    path.write_bytes(b"PK\x05\x06" + bytes(18))
    os.utime(path, (NOW - age, NOW - age))
    return path


def test_the_newest_settled_package_is_offered(tmp_path: Path) -> None:
    """Of two settled packages the newer is offered, with nothing to wait for."""
    publish(tmp_path, "walkme-1.zip", age=600)
    newer = publish(tmp_path, "walkme-2.zip", age=60)
    look = DirectorySource(tmp_path, SETTLE).look(NOW)
    assert look.package == Package(newer)
    assert look.settle_wait is None
    assert look.ready() == Package(newer)


def test_the_signature_changes_only_with_the_package(tmp_path: Path) -> None:
    """Two looks at an unchanged folder sign alike; a newer settled package signs anew."""
    source = DirectorySource(tmp_path, SETTLE)
    publish(tmp_path, "walkme-1.zip", age=600)
    first = source.look(NOW)
    assert source.look(NOW + 5).signature == first.signature
    publish(tmp_path, "walkme-2.zip", age=60)
    assert source.look(NOW).signature != first.signature


def test_a_settling_publish_asks_to_wait_for_it(tmp_path: Path) -> None:
    """A newer package still settling gives the time left to wait, the older one still offered."""
    older = publish(tmp_path, "walkme-1.zip", age=600)
    publish(tmp_path, "walkme-2.zip", age=10)
    look = DirectorySource(tmp_path, SETTLE).look(NOW)
    assert look.settle_wait == pytest.approx(20.0)
    assert look.package == Package(older)


def test_only_a_settling_publish_is_not_ready(tmp_path: Path) -> None:
    """With only a settling package, there is none to build yet and the error names it."""
    publish(tmp_path, "walkme-1.zip", age=10)
    look = DirectorySource(tmp_path, SETTLE).look(NOW)
    assert look.package is None
    with pytest.raises(NothingPublishedError, match=r"walkme-1\.zip changed less than 30s ago"):
        look.ready()


def test_an_empty_folder_has_nothing_published(tmp_path: Path) -> None:
    """A folder with no package (only a partial download) raises NothingPublishedError."""
    (tmp_path / "walkme-1.zip.part").write_bytes(b"")
    with pytest.raises(NothingPublishedError, match="no package yet"):
        DirectorySource(tmp_path, SETTLE).look(NOW)
