"""Read a published package, from a ZIP or an unpacked directory, into one shape.

The result is the same for a ZIP and for the same ZIP unpacked: normalised paths, junk dropped,
every refusal already made.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sfsync.package.errors import UnreadablePackageError, describe
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

    Raise `UnreadablePackageError` if the file cannot be opened, and another `PackageError`
    subclass, naming the entry, if the archive is refused.
    """
    origin = str(path)
    try:
        file = path.open("rb")
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UnreadablePackageError(f"{describe(origin)}: cannot read ({reason})") from error
    with file:
        try:
            files = read_zip_entries(file, origin, limits)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise UnreadablePackageError(f"{describe(origin)}: cannot read ({reason})") from error
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
    package; raise a `PackageError` subclass if it is refused.
    """
    if path.is_dir():
        return read_tree(path, limits)
    return read_zip(path, limits)
