"""A read cache in front of a TokenStore, for the long-running commands.

keyrings.cryptfile derives an Argon2 key for every value it reads or writes (about a second of
CPU each here), so a daemon that asked the keyring before every decision would spend minutes
per cycle with a few hundred connectors. Records change only when sfsync refreshes a token
(through this store: the cache is updated) or another process writes the keyring (`sfsync
authorize`): the backend's cheap change marker (the file's size and mtime) catches that.
Without a marker, nothing is cached: such backends (the Secret Service) answer in
milliseconds anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Hashable
from pathlib import Path

from sfsync.tokens.keyring_store import KeyringTokenStore
from sfsync.tokens.record import StoredAuthorization
from sfsync.tokens.store import TokenStore


def file_marker(path: Path) -> Callable[[], Hashable]:
    """Given a keyring file, return a function giving its (size, mtime) or None if absent."""

    def marker() -> Hashable:
        try:
            status = path.stat()
        except OSError:
            return None
        return (status.st_size, status.st_mtime_ns, status.st_ino)

    return marker


def cached(store: TokenStore) -> TokenStore:
    """Given a token store, return it behind a read cache if its backend is a file (whose
    marker is cheap), else as it is (also when it is cached already).
    """
    if isinstance(store, CachingTokenStore):
        return store
    path = store.file_path if isinstance(store, KeyringTokenStore) else None
    return CachingTokenStore(store, file_marker(path)) if path is not None else store


class CachingTokenStore:
    """A TokenStore that remembers what it read until the backend's marker changes."""

    def __init__(self, inner: TokenStore, marker: Callable[[], Hashable] | None) -> None:
        self._inner = inner
        self._marker = marker
        self._lock = threading.Lock()
        self._records: dict[str, StoredAuthorization | None] = {}
        self._seen: Hashable = None

    def describe(self) -> str:
        """Return the inner store's description."""
        return self._inner.describe()

    def get(self, connector: str) -> StoredAuthorization | None:
        """Return the connector's authorization, from the cache while the keyring is unchanged."""
        if self._marker is None:
            return self._inner.get(connector)
        with self._lock:
            self._forget_if_changed()
            if connector in self._records:
                return self._records[connector]
        record = self._inner.get(connector)
        with self._lock:
            self._records[connector] = record
        return record

    def get_many(self, connectors: Collection[str]) -> dict[str, StoredAuthorization | None]:
        """Return each connector's authorization, from the cache where the keyring is
        unchanged; the others as the inner store reads them, in one pass.
        """
        if self._marker is None:
            return dict(self._inner.get_many(connectors))
        with self._lock:
            self._forget_if_changed()
            known = {name: self._records[name] for name in connectors if name in self._records}
        missing = [name for name in connectors if name not in known]
        if missing:
            read = self._inner.get_many(missing)
            with self._lock:
                self._records.update(read)
            known.update(read)
        return {name: known[name] for name in connectors}

    def put(self, connector: str, record: StoredAuthorization) -> None:
        """Store the authorization, and remember it without reading it back."""
        self._write(connector, record, lambda: self._inner.put(connector, record))

    def delete(self, connector: str) -> bool:
        """Remove the connector's authorization."""
        existed: list[bool] = []
        self._write(connector, None, lambda: existed.append(self._inner.delete(connector)))
        return existed[0]

    def _write(
        self, connector: str, record: StoredAuthorization | None, write: Callable[[], None]
    ) -> None:
        if self._marker is None:
            write()
            return
        # Held across the write: another process's change must be noticed before it (and
        # forget the cache), so that the marker taken after it stands for our write alone.
        with self._lock:
            self._forget_if_changed()
            write()
            self._records[connector] = record
            self._seen = self._marker()

    def _forget_if_changed(self) -> None:
        if self._marker is None:
            return
        current = self._marker()
        if current != self._seen:
            self._records.clear()
            self._seen = current
