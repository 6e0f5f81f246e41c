"""Read a published package, from a ZIP or an unpacked directory, into one shape.

The result is the same for a ZIP and for the same ZIP unpacked: normalised paths, junk dropped,
every refusal already made.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sfsync.errors import PackageError
from sfsync.files import READ_NOFOLLOW, file_kind
from sfsync.package.errors import LinkOrSpecialFileError, UnreadablePackageError, describe
from sfsync.package.limits import PackageLimits
from sfsync.package.treeread import read_tree_entries
from sfsync.package.zipread import read_zip_entries


@dataclass(frozen=True)
class PublishedPackage:
    """A package's files as published, and where they came from (for messages)."""

    files: Mapping[str, bytes]  # normalised POSIX path -> content, junk already dropped
    origin: str


def read_zip(path: Path, limits: PackageLimits) -> PublishedPackage:
    """Given the path of a ZIP and the limits, return its package.

    Raise `UnreadablePackageError` if the file cannot be opened, `LinkOrSpecialFileError` if the
    path is a symbolic link or not a regular file, and another `PackageError` subclass, naming
    the entry, if the archive is refused.
    """
    origin = str(path)
    try:
        descriptor = os.open(path, READ_NOFOLLOW)
    except OSError as error:
        if error.errno == errno.ELOOP:  # O_NOFOLLOW met a symbolic link
            raise _not_a_file(origin, stat.S_IFLNK) from error
        raise _unreadable(origin, error) from error
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise _not_a_file(origin, mode)
    with os.fdopen(descriptor, "rb") as file:
        try:
            files = read_zip_entries(file, origin, limits)
        except OSError as error:
            raise _unreadable(origin, error) from error
    return PublishedPackage(files=files, origin=origin)


def read_zip_bytes(data: bytes, origin: str, limits: PackageLimits) -> PublishedPackage:
    """Given a ZIP's bytes, a name for where they came from and the limits, return its package;
    raise a `PackageError` subclass naming the entry if the archive is refused.
    """
    return PublishedPackage(files=read_zip_entries(io.BytesIO(data), origin, limits), origin=origin)


def read_tree(root: Path, limits: PackageLimits) -> PublishedPackage:
    """Given a directory holding an unpacked package and the limits, return its package; raise a
    `PackageError` subclass naming the entry if it is refused.
    """
    return PublishedPackage(files=read_tree_entries(root, limits), origin=str(root))


def read_package(path: Path, limits: PackageLimits) -> PublishedPackage:
    """Given a path to a ZIP or to an unpacked package directory and the limits, return its
    package; raise a `PackageError` subclass if it is refused, `LinkOrSpecialFileError` if the
    path itself is a symbolic link or a special file.
    """
    try:
        mode = path.lstat().st_mode
    except OSError as error:
        raise _unreadable(str(path), error) from error
    if stat.S_ISDIR(mode):
        return read_tree(path, limits)
    return read_zip(path, limits)


def _not_a_file(origin: str, mode: int) -> PackageError:
    # A link in a drop folder could point at any folder the daemon may read (its credentials
    # included), which would then be pushed to a Static Resource, or at /dev/zero; a FIFO
    # would block the open forever. The package itself must be in the folder.
    if stat.S_ISLNK(mode):
        reason = "is a symbolic link; publish the ZIP or the folder itself, not a link to it"
        return LinkOrSpecialFileError(f"{describe(origin)}: {reason}")
    if stat.S_ISDIR(mode):
        return UnreadablePackageError(f"{describe(origin)}: cannot read (Is a directory)")
    return LinkOrSpecialFileError(
        f"{describe(origin)}: is {file_kind(mode)}, not a ZIP file or a folder"
    )


def _unreadable(origin: str, error: OSError) -> UnreadablePackageError:
    reason = error.strerror or type(error).__name__
    return UnreadablePackageError(f"{describe(origin)}: cannot read ({reason})")
