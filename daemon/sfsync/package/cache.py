"""Where compressed entries are kept between builds, keyed by content hash and setting.

A cache is only a hint: `compress.compress_entries` checks every entry it returns against the
content before use, so a damaged, foreign or stale file costs a recompression, never a wrong
package. Failing to read or write the cache never fails a build.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_ENTRY_BYTES = 5_242_880  # nothing larger fits in a Static Resource anyway
_KEY = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class CompressionCache(Protocol):
    """Raw deflate streams by key; may forget anything at any time."""

    def get(self, key: str) -> bytes | None:
        """Given a key, return what was stored under it, or None."""

    def put(self, key: str, compressed: bytes) -> None:
        """Given a key and a raw deflate stream, store it, or silently don't."""


class MemoryCompressionCache:
    """A cache in memory holding at most max_bytes, forgetting the least recently used first."""

    def __init__(self, max_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def get(self, key: str) -> bytes | None:
        """Given a key, return what was stored under it, or None."""
        compressed = self._entries.get(key)
        if compressed is not None:
            self._entries.move_to_end(key)
        return compressed

    def put(self, key: str, compressed: bytes) -> None:
        """Given a key and a raw deflate stream, keep it, evicting older entries to fit."""
        if len(compressed) > self.max_bytes:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._size -= len(previous)
        self._entries[key] = compressed
        self._size += len(compressed)
        while self._size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted)


class DirectoryCompressionCache:
    """A cache of one file per key under a directory (state_dir/cache), private to its owner.

    Files are written to a temporary name and renamed into place, so a reader sees a whole
    entry or none; they are mode 0600 in directories of mode 0700.
    """

    def __init__(self, root: Path, max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES) -> None:
        self.root = root
        self.max_entry_bytes = max_entry_bytes

    def path_for(self, key: str) -> Path:
        """Given a key, return the file it is stored in; raise ValueError if the key could name
        anything outside the cache directory.
        """
        if not _KEY.match(key):
            raise ValueError(f"cache key {key!r} is not a plain file name")
        return self.root / key[:2] / key

    def get(self, key: str) -> bytes | None:
        """Given a key, return the file's bytes, or None if it is missing, unreadable, not a
        regular file or larger than max_entry_bytes.
        """
        try:
            descriptor = os.open(self.path_for(key), _OPEN_FLAGS)
        except OSError:
            return None
        with os.fdopen(descriptor, "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode) or status.st_size > self.max_entry_bytes:
                return None
            try:
                return file.read(self.max_entry_bytes + 1)[: self.max_entry_bytes]
            except OSError:
                return None

    def put(self, key: str, compressed: bytes) -> None:
        """Given a key and a raw deflate stream, write it atomically with mode 0600; a full disk
        or a read-only directory only means it is not cached.
        """
        path = self.path_for(key)
        if len(compressed) > self.max_entry_bytes:
            return
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        except OSError:
            return
        try:
            with os.fdopen(descriptor, "wb") as file:
                os.fchmod(file.fileno(), 0o600)
                file.write(compressed)
            Path(temporary).replace(path)
        except OSError:
            with contextlib.suppress(OSError):
                Path(temporary).unlink()
