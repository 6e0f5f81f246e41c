"""Read the files of a published package that was unpacked into a directory.

The same path rules as for a ZIP apply to every name, and nothing but regular files and
directories is accepted: links are refused rather than followed, since following one could read
outside the package.

Whoever publishes into the drop folder can change the tree while it is read, so nothing is
opened by path: the walk holds a descriptor for each folder it is in, opens every child
relative to it with O_NOFOLLOW, and checks that what it opened is what the listing showed
(same device and inode). A folder swapped for a link to the daemon's credentials between the
listing and the open is refused, never read.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sfsync.files import DIRECTORY_NOFOLLOW, READ_NOFOLLOW, file_kind
from sfsync.package.collect import PackageCollector
from sfsync.package.errors import (
    ArchiveLimitError,
    LinkOrSpecialFileError,
    SizeMismatchError,
    UnreadablePackageError,
    describe,
    link_or_special_reason,
)
from sfsync.package.limits import PackageLimits
from sfsync.package.paths import normalise_entry_name

CHUNK_BYTES = 1024 * 1024
# The walk holds one descriptor per level it is in; a deeper tree is refused rather than
# allowed to take the daemon's descriptors (real packages nest a handful of levels).
MAX_DEPTH = 64
_NOT_FOLLOWED = {errno.ELOOP, errno.ENOTDIR, getattr(errno, "EMLINK", errno.ELOOP)}


@dataclass(frozen=True)
class _Listed:
    """One entry as the folder listing saw it: its name and its lstat."""

    name: str  # the entry's path from the package root, as the messages show it
    leaf: str  # its name in its folder
    status: os.stat_result


def read_tree_entries(root: Path, limits: PackageLimits) -> dict[str, bytes]:
    """Given a directory holding an unpacked package and the limits, return its files as
    normalised path -> content, junk dropped.

    Raise `UnreadablePackageError` if the directory or a file cannot be read,
    `LinkOrSpecialFileError` naming the entry if one is a link or a special file or is replaced
    while being read, and the other `PackageError` subclasses for the same refusals as a ZIP gets.
    """
    collector = PackageCollector(str(root), limits)
    with _open_root(root, collector.origin) as descriptor:
        _read_directory(descriptor, "", 0, collector)
    return collector.finish()


@contextmanager
def _open_root(root: Path, origin: str) -> Iterator[int]:
    try:
        descriptor = os.open(root, DIRECTORY_NOFOLLOW)
    except OSError as error:
        # O_DIRECTORY | O_NOFOLLOW meets a link with ELOOP or ENOTDIR, depending on the system.
        if error.errno in _NOT_FOLLOWED and _is_link(root):
            raise LinkOrSpecialFileError(
                f"{describe(origin)}: is a symbolic link; publish the folder itself, not a link "
                "to it"
            ) from error
        raise _unreadable(origin, None, error) from error
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def _read_directory(
    descriptor: int, relative: str, depth: int, collector: PackageCollector
) -> None:
    origin = collector.origin
    if depth > MAX_DEPTH:
        raise ArchiveLimitError(
            f"{describe(origin, relative)}: folders nested more than {MAX_DEPTH} levels deep",
            entry=relative,
        )
    for entry in _list(descriptor, relative, collector):
        mode = entry.status.st_mode
        if stat.S_ISDIR(mode):
            with _open_child(descriptor, entry, DIRECTORY_NOFOLLOW, origin) as child:
                _read_directory(child, entry.name, depth + 1, collector)
        else:
            with _open_child(descriptor, entry, READ_NOFOLLOW, origin) as child:
                path = normalise_entry_name(entry.name, origin)
                collector.add_file(entry.name, path, _read_file(child, entry, collector))


def _list(descriptor: int, relative: str, collector: PackageCollector) -> list[_Listed]:
    """Return the folder's entries sorted by name, each counted, named and lstat'ed; refuse a
    link or a special file before anything is opened.
    """
    origin = collector.origin
    try:
        with os.scandir(descriptor) as scanned:
            entries = sorted(scanned, key=lambda entry: entry.name)
    except OSError as error:
        raise _unreadable(origin, relative or None, error) from error
    listed = []
    for entry in entries:
        name = f"{relative}/{entry.name}" if relative else entry.name
        collector.count_entry(name)
        path = normalise_entry_name(name, origin)
        try:
            status = entry.stat(follow_symlinks=False)
        except OSError as error:
            raise _unreadable(origin, name, error) from error
        if stat.S_ISDIR(status.st_mode):
            collector.add_directory(name, path)
        elif not stat.S_ISREG(status.st_mode):
            raise LinkOrSpecialFileError(
                f"{describe(origin, name)}: {link_or_special_reason(status.st_mode)}", entry=name
            )
        listed.append(_Listed(name=name, leaf=entry.name, status=status))
    return listed


@contextmanager
def _open_child(parent: int, entry: _Listed, flags: int, origin: str) -> Iterator[int]:
    """Open an entry relative to its folder's descriptor, and yield the descriptor once it is
    known to be the very file or folder the listing saw; close it however the caller leaves.
    """
    try:
        descriptor = os.open(entry.leaf, flags, dir_fd=parent)
    except OSError as error:
        if error.errno in _NOT_FOLLOWED:  # a link, or no longer a folder, since the listing
            raise _replaced(origin, entry.name, _kind_now(parent, entry.leaf)) from error
        raise _unreadable(origin, entry.name, error) from error
    try:
        opened = os.fstat(descriptor)
        if stat.S_IFMT(opened.st_mode) != stat.S_IFMT(entry.status.st_mode):
            raise _replaced(origin, entry.name, file_kind(opened.st_mode))
        if (opened.st_dev, opened.st_ino) != (entry.status.st_dev, entry.status.st_ino):
            raise _replaced(origin, entry.name, "another file")
        yield descriptor
    finally:
        os.close(descriptor)


def _read_file(descriptor: int, entry: _Listed, collector: PackageCollector) -> bytes:
    origin, name = collector.origin, entry.name
    size = os.fstat(descriptor).st_size
    pieces: list[bytes] = []
    total = 0
    # Read one byte past the size seen, to notice a file still growing.
    while total <= size:
        try:
            piece = os.read(descriptor, min(CHUNK_BYTES, size + 1 - total))
        except OSError as error:
            raise _unreadable(origin, name, error) from error
        if not piece:
            break
        total += len(piece)
        collector.spend(name, len(piece))
        pieces.append(piece)
    if total != size:
        raise SizeMismatchError(
            f"{describe(origin, name)}: changed size while being read "
            f"({size:,} bytes, then {total:,}); still being written?",
            entry=name,
        )
    return b"".join(pieces)


def _is_link(path: Path) -> bool:
    try:
        return path.is_symlink()
    except OSError:
        return False


def _kind_now(parent: int, leaf: str) -> str:
    try:
        return file_kind(os.stat(leaf, dir_fd=parent, follow_symlinks=False).st_mode)
    except OSError:
        return "something else"


def _replaced(origin: str, name: str, by: str) -> LinkOrSpecialFileError:
    return LinkOrSpecialFileError(
        f"{describe(origin, name)}: replaced by {by} while being read; refused, not followed",
        entry=name,
    )


def _unreadable(origin: str, name: str | None, error: OSError) -> UnreadablePackageError:
    reason = error.strerror or type(error).__name__
    return UnreadablePackageError(f"{describe(origin, name)}: cannot read ({reason})", entry=name)
