"""Watching drop folders with inotify (watchdog): any event that may be a publish triggers
the system's source check; the check itself decides what, if anything, was published.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from sfsync.sources.candidates import is_ignored


def top_level_name(folder: Path, path: str) -> str | None:
    """Given a drop folder and an event's path, return the folder entry the event concerns
    (a package file, or the package folder a file belongs to), or None if outside the folder.
    """
    try:
        relative = Path(os.path.normpath(path)).relative_to(folder)
    except ValueError:
        return None
    return relative.parts[0] if relative.parts else None


def may_publish(folder: Path, event: FileSystemEvent) -> bool:
    """Given a drop folder and a watchdog event, return whether it may have published something.

    A rename of `name.zip.part` to `name.zip` counts by its destination; events on dot-files and
    on names still being written (`*.part`, `*.tmp`) do not count, and neither do reads.
    """
    if event.event_type in {"opened", "closed_no_write"}:
        return False
    # A rename counts by both names: into place is a publish, out of place (or to an ignored
    # name) withdraws a package, which changes which one is newest, as a deletion does.
    paths = [event.src_path, event.dest_path] if event.event_type == "moved" else [event.src_path]
    for raw in paths:
        path = raw.decode() if isinstance(raw, bytes) else raw
        name = top_level_name(folder, path)
        if name is not None and not is_ignored(name):
            return True
    return False


class _Handler(FileSystemEventHandler):
    def __init__(self, folder: Path, on_publish: Callable[[], None]) -> None:
        self._folder = folder
        self._on_publish = on_publish

    def on_any_event(self, event: FileSystemEvent) -> None:
        if may_publish(self._folder, event):
            self._on_publish()


class FolderWatcher:
    """One inotify observer over the drop folders, calling back per system."""

    def __init__(self) -> None:
        self._observer = Observer()
        self._observer.daemon = True

    def watch(self, folder: Path, on_publish: Callable[[], None]) -> None:
        """Call `on_publish` whenever something in `folder` may have been published."""
        absolute = Path(os.path.normpath(folder.absolute()))
        self._observer.schedule(_Handler(absolute, on_publish), str(absolute), recursive=True)

    def start(self) -> None:
        """Start watching."""
        self._observer.start()

    def stop(self) -> None:
        """Stop watching and wait for the observer thread."""
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=5)
