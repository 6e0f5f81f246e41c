"""Where compressed entries are kept between builds, keyed by content hash and setting.

A cache is only a hint: `compress.compress_entries` checks every entry it returns against the
content before use, so a damaged, foreign or stale entry costs a recompression, never a wrong
package. Failing to read or write the cache never fails a build.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import struct
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sfsync.files import READ_NOFOLLOW, make_private_directories

DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_ENTRY_BYTES = 5_242_880  # nothing larger fits in a Static Resource anyway
DEFAULT_MAX_PACKS = 8
DEFAULT_MAX_PACK_BYTES = 256 * 1024 * 1024
_MAX_KEY_LENGTH = 255
_PACK_MAGIC = b"sfsync compression cache pack 1\n"
_RECORD = struct.Struct("<HI")  # key length, data length
_KEY = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")

# Given a stored stream and the content it should hold, whether it does (compress.inflates_to).
Check = Callable[[bytes, bytes], bool]


class CompressionCache(Protocol):
    """Raw deflate streams by key; may forget anything at any time."""

    def get(self, key: str) -> bytes | None:
        """Given a key, return what was stored under it, or None."""

    def get_checked(self, key: str, content: bytes, check: Check) -> bytes | None:
        """Given a key, the content its stream must hold and the check for that, return the
        stream if it passes, else None; a stored stream that passed is not checked again.
        """

    def put(self, key: str, compressed: bytes) -> None:
        """Given a key and a raw deflate stream, store it, or silently don't."""

    def flush(self) -> None:
        """Persist what was put, if the cache persists anything; called once per build."""

    def unload(self) -> None:
        """Drop from memory what the cache also keeps elsewhere (an idle daemon need not hold
        a package's compressed entries); the next `get` reads it again.
        """


class _CheckedStreams:
    """The streams that passed their check, by key, held as the very objects that passed: a
    stream put under the key later is a new object and is checked again. Every connector's
    build of a cycle meets the same streams, and inflating each again cost a quarter of a
    200-connector fan-out.
    """

    def __init__(self) -> None:
        self._passed: dict[str, bytes] = {}

    def passed(self, key: str, stream: bytes) -> bool:
        """Return whether this very stream passed its check under this key."""
        return self._passed.get(key) is stream

    def remember(self, key: str, stream: bytes) -> None:
        """Note that this stream passed its check under this key."""
        self._passed[key] = stream

    def forget(self, key: str) -> None:
        """Forget the key (its stream was replaced or dropped)."""
        self._passed.pop(key, None)

    def keep_only(self, keys: Callable[[str], bool]) -> None:
        """Forget every key for which `keys` is false (the cache no longer holds it)."""
        self._passed = {key: stream for key, stream in self._passed.items() if keys(key)}


class MemoryCompressionCache:
    """A cache in memory holding at most max_bytes, forgetting the least recently used first."""

    def __init__(self, max_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._checked = _CheckedStreams()

    def get(self, key: str) -> bytes | None:
        """Given a key, return what was stored under it, or None."""
        compressed = self._entries.get(key)
        if compressed is not None:
            self._entries.move_to_end(key)
        return compressed

    def get_checked(self, key: str, content: bytes, check: Check) -> bytes | None:
        """Given a key, its content and the check, return the stream if it passes, else None."""
        compressed = self.get(key)
        if compressed is None:
            return None
        if not self._checked.passed(key, compressed):
            if not check(compressed, content):
                return None
            self._checked.remember(key, compressed)
        return compressed

    def put(self, key: str, compressed: bytes) -> None:
        """Given a key and a raw deflate stream, keep it, evicting older entries to fit."""
        if len(compressed) > self.max_bytes:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._size -= len(previous)
            self._checked.forget(key)
        self._entries[key] = compressed
        self._size += len(compressed)
        while self._size > self.max_bytes:
            evicted_key, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted)
            self._checked.forget(evicted_key)

    def flush(self) -> None:
        """Do nothing: memory holds entries as soon as they are put."""

    def unload(self) -> None:
        """Do nothing: memory is the only place this cache keeps anything."""


class DirectoryCompressionCache:
    """A cache kept in pack files under a directory (state_dir/cache), private to its owner.

    One file per entry would cost a file creation per compressed file, which on some
    filesystems takes longer than compressing it; so entries put during a build are buffered and
    `flush` writes them as one pack: a temporary file renamed into place (a reader sees a whole
    pack or none), mode 0600 in a directory of mode 0700. Once more than max_packs exist, the
    next flush rewrites the entries this process used into one pack and removes the packs it
    read. A pack that is unreadable, malformed, a link or too large is skipped.
    """

    def __init__(
        self,
        root: Path,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
        max_packs: int = DEFAULT_MAX_PACKS,
        max_pack_bytes: int = DEFAULT_MAX_PACK_BYTES,
    ) -> None:
        self.root = root
        self.max_entry_bytes = max_entry_bytes
        self.max_packs = max_packs
        self.max_pack_bytes = max_pack_bytes
        self._lock = threading.Lock()
        self._entries: dict[str, bytes] | None = None
        self._packs: set[str] = set()  # pack file names read or written by this process
        self._pending: dict[str, bytes] = {}
        self._used: set[str] = set()
        self._checked = _CheckedStreams()

    def get(self, key: str) -> bytes | None:
        """Given a key, return the stream stored under it in any readable pack, or None."""
        _check_key(key)
        with self._lock:
            compressed = self._load().get(key)
            if compressed is not None:
                self._used.add(key)
            return compressed

    def get_checked(self, key: str, content: bytes, check: Check) -> bytes | None:
        """Given a key, its content and the check, return the stream if it passes, else None.

        The check (an inflate) runs outside the lock, so builds on other threads go on meanwhile.
        """
        compressed = self.get(key)
        if compressed is None:
            return None
        with self._lock:
            if self._checked.passed(key, compressed):
                return compressed
        if not check(compressed, content):
            return None
        with self._lock:
            self._checked.remember(key, compressed)
        return compressed

    def put(self, key: str, compressed: bytes) -> None:
        """Given a key and a raw deflate stream, keep it for the next `flush`."""
        _check_key(key)
        if len(compressed) > self.max_entry_bytes:
            return
        with self._lock:
            self._load()[key] = compressed
            self._pending[key] = compressed
            self._used.add(key)
            self._checked.forget(key)

    def flush(self) -> None:
        """Write the entries put since the last flush as one pack, and compact if there are too
        many packs; a full disk or a read-only directory only means they are not cached.
        """
        with self._lock:
            if self._pending and self._write_pack(self._pending):
                self._pending = {}
            if len(self._packs) > self.max_packs:
                self._compact()

    def unload(self) -> None:
        """Write what is pending, then drop the entries read from the packs and the checks
        they passed: an idle daemon held every compressed file of the last package (its size
        again). The next `get` reads the packs anew, and each entry is checked once more.
        """
        with self._lock:
            if self._pending and self._write_pack(self._pending):
                self._pending = {}
            if self._pending:
                return  # not written: memory is the only place these are
            self._entries = None
            self._checked = _CheckedStreams()

    def _load(self) -> dict[str, bytes]:
        if self._entries is None:
            self._entries = {}
            for path in sorted(self.root.glob("pack-*.bin")):
                records = self._read_pack(path)
                if records is not None:
                    self._packs.add(path.name)
                    self._entries.update(records)
        return self._entries

    def _read_pack(self, path: Path) -> dict[str, bytes] | None:
        try:
            descriptor = os.open(path, READ_NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(descriptor, "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode) or status.st_size > self.max_pack_bytes:
                return None
            try:
                data = file.read(self.max_pack_bytes + 1)
            except OSError:
                return None
        return _parse_pack(data, self.max_entry_bytes)

    def _write_pack(self, entries: dict[str, bytes]) -> bool:
        data = _render_pack(entries)
        name = f"pack-{hashlib.sha256(data).hexdigest()[:32]}.bin"
        try:
            make_private_directories(self.root)
            descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", dir=self.root)
        except OSError:
            return False
        try:
            with os.fdopen(descriptor, "wb") as file:
                os.fchmod(file.fileno(), 0o600)
                file.write(data)
            Path(temporary).replace(self.root / name)
        except OSError:
            with contextlib.suppress(OSError):
                Path(temporary).unlink()
            return False
        self._packs.add(name)
        return True

    def _compact(self) -> None:
        entries = self._load()
        live = {key: entries[key] for key in sorted(self._used) if key in entries}
        old = set(self._packs)
        self._packs = set()
        if not self._write_pack(live):
            self._packs = old
            return
        for name in old - self._packs:
            with contextlib.suppress(OSError):
                (self.root / name).unlink()
        self._entries = dict(live)
        self._used = set()
        self._checked.keep_only(self._entries.__contains__)


def _check_key(key: str) -> None:
    if not _KEY.match(key) or len(key) > _MAX_KEY_LENGTH:
        raise ValueError(f"cache key {key!r} is not a plain name")


def _render_pack(entries: dict[str, bytes]) -> bytes:
    parts = [_PACK_MAGIC]
    for key in sorted(entries):
        encoded = key.encode("ascii")
        parts += [_RECORD.pack(len(encoded), len(entries[key])), encoded, entries[key]]
    return b"".join(parts)


def _parse_pack(data: bytes, max_entry_bytes: int) -> dict[str, bytes] | None:
    # Records are read up to the first damaged one; what they hold is verified on use anyway.
    if not data.startswith(_PACK_MAGIC):
        return None
    records: dict[str, bytes] = {}
    offset = len(_PACK_MAGIC)
    while offset + _RECORD.size <= len(data):
        key_length, data_length = _RECORD.unpack_from(data, offset)
        start = offset + _RECORD.size
        end = start + key_length + data_length
        if end > len(data) or data_length > max_entry_bytes:
            break
        key = data[start : start + key_length].decode("ascii", "replace")
        if _KEY.match(key):
            records[key] = data[start + key_length : end]
        offset = end
    return records
