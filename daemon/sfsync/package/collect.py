"""Gather a package's files while reading, enforcing the limits and the one-path-one-file rule.

Both readers (ZIP and tree) feed one `PackageCollector`, so duplicates, conflicts, junk and
limits are decided in one place.
"""

from __future__ import annotations

from sfsync.package.errors import (
    ArchiveLimitError,
    DuplicateEntryError,
    PathConflictError,
    describe,
)
from sfsync.package.limits import PackageLimits
from sfsync.package.paths import collision_key, is_junk


class PackageCollector:
    """Accumulate the files of one package as they are read, refusing as soon as a rule breaks."""

    def __init__(self, origin: str, limits: PackageLimits) -> None:
        self.origin = origin
        self.limits = limits
        self._files: dict[str, bytes] = {}
        self._names: dict[str, str] = {}  # collision key -> the entry name that claimed it
        self._directories: dict[str, str] = {}  # collision key -> entry name
        self._entries = 0
        self._expanded = 0

    def count_entry(self, name: str) -> None:
        """Given an entry about to be read, count it; raise `ArchiveLimitError` past max_entries."""
        self._entries += 1
        if self._entries > self.limits.max_entries:
            raise ArchiveLimitError(
                f"{describe(self.origin, name)}: more than {self.limits.max_entries:,} entries "
                "(limit max_entries)",
                entry=name,
            )

    def spend(self, name: str, byte_count: int) -> None:
        """Given bytes just expanded from an entry, count them; raise `ArchiveLimitError` past
        max_expanded_bytes.
        """
        self._expanded += byte_count
        if self._expanded > self.limits.max_expanded_bytes:
            raise ArchiveLimitError(
                f"{describe(self.origin, name)}: package expands past "
                f"{self.limits.max_expanded_bytes:,} bytes (limit max_expanded_bytes)",
                entry=name,
            )

    def add_directory(self, name: str, path: str) -> None:
        """Given a directory entry's name and normalised path, remember it for conflict checks."""
        if path and not is_junk(path):
            self._directories.setdefault(collision_key(path), name)

    def add_file(self, name: str, path: str, content: bytes) -> None:
        """Given a file entry's name, normalised path and content, keep it unless it is junk;
        raise `DuplicateEntryError` if another entry already claimed the same path.
        """
        if is_junk(path):
            return
        key = collision_key(path)
        if key in self._names:
            raise DuplicateEntryError(
                f"{describe(self.origin, name)}: same path as entry {self._names[key]!r} "
                "(names are compared after normalisation and case-insensitively)",
                entry=name,
            )
        self._names[key] = name
        self._files[path] = content

    def finish(self) -> dict[str, bytes]:
        """Return the files collected; raise `PathConflictError` if a path is both a file and a
        directory.
        """
        for path in sorted(self._files):
            segments = collision_key(path).split("/")
            for depth in range(1, len(segments)):
                prefix = "/".join(segments[:depth])
                if prefix in self._names:
                    name = self._names[collision_key(path)]
                    raise PathConflictError(
                        f"{describe(self.origin, name)}: its folder "
                        f"{self._names[prefix]!r} is also a file",
                        entry=name,
                    )
        for key, name in self._directories.items():
            if key in self._names:
                raise PathConflictError(
                    f"{describe(self.origin, name)}: directory entry has the same path as file "
                    f"{self._names[key]!r}",
                    entry=name,
                )
        return dict(self._files)
