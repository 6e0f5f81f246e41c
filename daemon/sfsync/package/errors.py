"""The ways a published package is refused, one `PackageError` subclass per kind of refusal.

Each message is one line naming the entry and the package it came from, then the reason, so an
operator can find the offending file without unpacking anything.
"""

from __future__ import annotations

import stat

from sfsync.errors import PackageError
from sfsync.files import file_kind


def describe(origin: str, entry: str | None = None) -> str:
    """Given a package origin and an optional entry name, return the one-line prefix of a message.

    Names are shown with `repr` so control characters, backslashes and undecodable bytes are
    visible and cannot break the line.
    """
    where = _one_line(origin)
    if entry is None:
        return where
    return f"entry {entry!r} in {where}"


def link_or_special_reason(mode: int) -> str:
    """Given the mode of an entry that is neither a regular file nor a directory, return the
    reason a `LinkOrSpecialFileError` gives: "symbolic link" or "special file (a FIFO)".
    """
    if stat.S_ISLNK(mode):
        return "symbolic link"
    return f"special file ({file_kind(mode)})"


def _one_line(text: str) -> str:
    # An origin is a filesystem path, which may itself hold a newline.
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


class UnreadablePackageError(PackageError):
    """The package path could not be opened or read at all."""


class NotAZipError(PackageError):
    """The file is not a ZIP archive (including an empty file)."""


class CorruptArchiveError(PackageError):
    """The ZIP's structures or data are damaged: bad headers, a CRC mismatch, overlapping data."""


class TruncatedArchiveError(CorruptArchiveError):
    """The ZIP ends early, as one still being written or cut off in transfer does."""


class UnsupportedCompressionError(PackageError):
    """An entry uses a compression method other than stored or deflate."""


class EncryptedEntryError(PackageError):
    """An entry is encrypted."""


class SizeMismatchError(PackageError):
    """An entry's declared size differs from the bytes it actually holds."""


class UnsafePathError(PackageError):
    """An entry's name is absolute, climbs out with '..', or holds backslashes, control chars,
    invisible formatting characters (bidi overrides) or line separators.
    """


class LinkOrSpecialFileError(PackageError):
    """An entry is a symbolic link or a special file (FIFO, device, socket)."""


class DuplicateEntryError(PackageError):
    """Two entries name the same path, exactly, after normalisation, or up to case."""


class PathConflictError(PackageError):
    """A path is used both as a file and as a directory."""


class ReservedEntryError(PackageError):
    """The package already holds a file that sfsync writes itself (the manifest)."""


class ArchiveLimitError(PackageError):
    """The package expands past a configured limit: total size, entry count or ratio."""


class SettingsError(PackageError):
    """The settings file is missing when overrides need it, or is not a JSON object."""


class PackageTooLargeError(PackageError):
    """The built ZIP is larger than the Static Resource limit, or too large for a plain ZIP."""
