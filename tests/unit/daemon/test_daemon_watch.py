"""Which watchdog events in a drop folder may be a publish, and the inotify watcher itself."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
)

from sfsync.daemon.watch import FolderWatcher, may_publish, top_level_name

DROP = Path("/srv/drop")


def event_id(value: object) -> str | None:
    """Name an event parameter by its class and paths; leave other parameters to pytest."""
    if not isinstance(value, FileSystemEvent):
        return None
    paths = [value.src_path, value.dest_path] if value.dest_path else [value.src_path]
    return f"{type(value).__name__}:{'->'.join(map(repr, paths))}"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/srv/drop/lightning.zip", "lightning.zip"),
        ("/srv/drop/pkg/assets/app.js", "pkg"),
        ("/srv/drop/pkg/../lightning.zip", "lightning.zip"),
        ("/srv/drop/./lightning.zip", "lightning.zip"),
        ("/srv/drop", None),  # the folder itself is no entry of it
        ("/srv/drop/", None),
        ("/srv/other/lightning.zip", None),
        ("/srv/dropbox/lightning.zip", None),  # a longer name is not a child
        ("/srv/drop/../other/lightning.zip", None),
        ("/", None),
    ],
)
def test_top_level_name(path: str, expected: str | None) -> None:
    """An event path maps to the drop-folder entry it concerns, or None outside the folder."""
    assert top_level_name(DROP, path) == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        # The publisher's rename into place counts, by its destination.
        (FileMovedEvent("/srv/drop/x.zip.part", "/srv/drop/x.zip"), True),
        (FileMovedEvent("/srv/drop/x.zip.tmp", "/srv/drop/x.zip"), True),
        (FileMovedEvent("/srv/incoming/x.zip", "/srv/drop/x.zip"), True),
        (DirMovedEvent("/srv/drop/pkg.part", "/srv/drop/pkg"), True),
        # Names still being written do not.
        (FileCreatedEvent("/srv/drop/x.zip.part"), False),
        (FileModifiedEvent("/srv/drop/x.zip.part"), False),
        (FileClosedEvent("/srv/drop/x.zip.part"), False),
        (FileCreatedEvent("/srv/drop/x.zip.tmp"), False),
        (FileMovedEvent("/srv/drop/x.zip.part", "/srv/drop/x.zip.tmp"), False),
        (DirCreatedEvent("/srv/drop/pkg.tmp"), False),
        # Dot-files (editors, sync tools) and anything under a dot-folder do not.
        (FileCreatedEvent("/srv/drop/.x.zip"), False),
        (FileModifiedEvent("/srv/drop/.DS_Store"), False),
        (FileCreatedEvent("/srv/drop/.git/index"), False),
        # A new or finished file, and a withdrawn one, count.
        (FileCreatedEvent("/srv/drop/x.zip"), True),
        (FileModifiedEvent("/srv/drop/x.zip"), True),
        (FileClosedEvent("/srv/drop/x.zip"), True),
        (FileDeletedEvent("/srv/drop/x.zip"), True),
        # Anything inside an unpacked package folder counts for that folder.
        (DirCreatedEvent("/srv/drop/pkg"), True),
        (FileCreatedEvent("/srv/drop/pkg/index.html"), True),
        (FileModifiedEvent("/srv/drop/pkg/assets/app.js"), True),
        (FileDeletedEvent("/srv/drop/pkg/old.js"), True),
        (FileMovedEvent("/srv/drop/pkg/app.js.tmp", "/srv/drop/pkg/app.js"), True),
        # Outside the folder, or the folder itself, does not.
        (FileCreatedEvent("/srv/other/x.zip"), False),
        (FileCreatedEvent("/srv/dropbox/x.zip"), False),
        (FileCreatedEvent("/srv/drop/../other/x.zip"), False),
        (DirModifiedEvent("/srv/drop"), False),
        # Reads do not.
        (FileOpenedEvent("/srv/drop/x.zip"), False),
        (FileClosedNoWriteEvent("/srv/drop/x.zip"), False),
        (FileOpenedEvent("/srv/drop/pkg/index.html"), False),
        # watchdog may hand over bytes paths; they are judged the same way.
        (FileMovedEvent(b"/srv/drop/x.zip.part", b"/srv/drop/x.zip"), True),
        (FileCreatedEvent(b"/srv/drop/x.zip.part"), False),
        (FileCreatedEvent(b"/srv/drop/.x.zip"), False),
        (FileDeletedEvent(b"/srv/drop/x.zip"), True),
        (FileCreatedEvent(b"/srv/drop/pkg/index.html"), True),
        (FileCreatedEvent(b"/srv/other/x.zip"), False),
    ],
    ids=event_id,
)
def test_may_publish(event: FileSystemEvent, expected: bool) -> None:
    """Renames into place, new files, package-folder changes and withdrawals count; partial
    names, dot-files, reads and paths outside the folder do not.
    """
    assert may_publish(DROP, event) is expected


@pytest.mark.parametrize("hidden", [".x.zip", "x.zip.part", "x.zip.tmp"])
def test_renaming_a_package_to_an_ignored_name_counts_as_a_withdrawal(hidden: str) -> None:
    """Renaming a package to a name the source never uses withdraws it, like deleting it."""
    assert may_publish(DROP, FileMovedEvent("/srv/drop/x.zip", f"/srv/drop/{hidden}"))


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    """An empty drop folder."""
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


@pytest.fixture
def published(drop: Path) -> Iterator[threading.Event]:
    """A running FolderWatcher on the drop folder; the event is set when it calls back."""
    fired = threading.Event()
    watcher = FolderWatcher()
    watcher.watch(drop, fired.set)
    watcher.start()
    yield fired
    watcher.stop()


def test_watcher_calls_back_when_a_file_is_renamed_into_the_folder(
    tmp_path: Path, drop: Path, published: threading.Event
) -> None:
    """A package renamed into the watched folder from elsewhere calls back within 5 s."""
    incoming = tmp_path / "incoming.zip"
    incoming.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    incoming.rename(drop / "lightning.zip")
    assert published.wait(5)


def test_watcher_ignores_a_partial_file_until_it_is_renamed(
    drop: Path, published: threading.Event
) -> None:
    """Writing `a.zip.part` alone does not call back within 0.5 s; renaming it to `a.zip` then
    does (which also proves the watcher was live while it stayed quiet).
    """
    partial = drop / "a.zip.part"
    with partial.open("wb") as stream:
        stream.write(b"PK\x05\x06" + b"\0" * 18)
        stream.flush()
        os.fsync(stream.fileno())
    assert not published.wait(0.5)
    partial.rename(drop / "a.zip")
    assert published.wait(5)


def test_a_folder_that_could_not_be_watched_can_be_watched_once_it_exists(tmp_path: Path) -> None:
    """A running watcher refuses a missing folder with OSError, as often as asked, and keeps
    nothing of those tries: once the folder exists, one watch calls back exactly once for one
    rename (a handler kept from each failed try would call back once more per try).
    """
    folder = tmp_path / "later"
    calls: list[int] = []
    watcher = FolderWatcher()
    watcher.start()
    try:
        for _ in range(3):
            with pytest.raises(OSError):
                watcher.watch(folder, lambda: calls.append(1))
        folder.mkdir()
        fired = threading.Event()

        def note() -> None:
            calls.append(1)
            fired.set()

        watcher.watch(folder, note)
        (tmp_path / "x.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
        (tmp_path / "x.zip").rename(folder / "x.zip")
        assert fired.wait(5)
        time.sleep(0.3)  # room for any further call back to arrive
    finally:
        watcher.stop()
    assert calls == [1]
