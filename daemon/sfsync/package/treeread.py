"""Read the files of a published package that was unpacked into a directory.

The same path rules as for a ZIP apply to every name, and nothing but regular files and
directories is accepted: links are refused rather than followed, since following one could read
outside the package.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sfsync.package.collect import PackageCollector
from sfsync.package.errors import (
    LinkOrSpecialFileError,
    SizeMismatchError,
    UnreadablePackageError,
    describe,
)
from sfsync.package.limits import PackageLimits
from sfsync.package.paths import normalise_entry_name

CHUNK_BYTES = 1024 * 1024
# O_NOFOLLOW closes the gap between checking an entry and opening it; O_NONBLOCK keeps a FIFO
# swapped in meanwhile from blocking the open.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_KINDS = {
    stat.S_IFLNK: "symbolic link",
    stat.S_IFIFO: "special file (a FIFO)",
    stat.S_IFCHR: "special file (a character device)",
    stat.S_IFBLK: "special file (a block device)",
    stat.S_IFSOCK: "special file (a socket)",
}


def read_tree_entries(root: Path, limits: PackageLimits) -> dict[str, bytes]:
    """Given a directory holding an unpacked package and the limits, return its files as
    normalised path -> content, junk dropped.

    Raise `UnreadablePackageError` if the directory or a file cannot be read, and the other
    `PackageError` subclasses for the same refusals as a ZIP gets.
    """
    origin = str(root)
    collector = PackageCollector(origin, limits)
    pending = [("", str(root))]
    while pending:
        relative, directory = pending.pop()
        for entry in _list(directory, relative, origin):
            name = f"{relative}/{entry.name}" if relative else entry.name
            collector.count_entry(name)
            path = normalise_entry_name(name, origin)
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as error:
                raise _unreadable(origin, name, error) from error
            if stat.S_ISDIR(mode):
                collector.add_directory(name, path)
                pending.append((name, entry.path))
            elif stat.S_ISREG(mode):
                collector.add_file(name, path, _read_file(entry, name, collector))
            else:
                reason = _KINDS.get(stat.S_IFMT(mode), "special file")
                raise LinkOrSpecialFileError(f"{describe(origin, name)}: {reason}", entry=name)
    return collector.finish()


def _list(directory: str, relative: str, origin: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError as error:
        raise _unreadable(origin, relative or None, error) from error


def _read_file(entry: os.DirEntry[str], name: str, collector: PackageCollector) -> bytes:
    origin = collector.origin
    try:
        descriptor = os.open(entry.path, _OPEN_FLAGS)
    except OSError as error:
        raise _unreadable(origin, name, error) from error
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise LinkOrSpecialFileError(
                f"{describe(origin, name)}: replaced by a special file while being read",
                entry=name,
            )
        pieces: list[bytes] = []
        total = 0
        # Read one byte past the size seen, to notice a file still growing.
        while total <= status.st_size:
            try:
                piece = file.read(min(CHUNK_BYTES, status.st_size + 1 - total))
            except OSError as error:
                raise _unreadable(origin, name, error) from error
            if not piece:
                break
            total += len(piece)
            collector.spend(name, len(piece))
            pieces.append(piece)
    if total != status.st_size:
        raise SizeMismatchError(
            f"{describe(origin, name)}: changed size while being read "
            f"({status.st_size:,} bytes, then {total:,}); still being written?",
            entry=name,
        )
    return b"".join(pieces)


def _unreadable(origin: str, name: str | None, error: OSError) -> UnreadablePackageError:
    reason = error.strerror or type(error).__name__
    return UnreadablePackageError(f"{describe(origin, name)}: cannot read ({reason})", entry=name)
