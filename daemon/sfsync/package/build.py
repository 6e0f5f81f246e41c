"""Build the deterministic ZIP pushed to one connector from a published package."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sfsync.package.cache import CompressionCache
from sfsync.package.compress import DEFAULT_WORKERS, Compressor, compress_entries, deflate
from sfsync.package.errors import PackageTooLargeError, describe
from sfsync.package.limits import PackageLimits
from sfsync.package.plan import plan_contents
from sfsync.package.read import PublishedPackage
from sfsync.package.zipwrite import ZipMember, write_zip, zip_size


@dataclass(frozen=True)
class BuildOptions:
    """What makes one connector's package differ from another's."""

    connector: str  # "system/environment"
    overrides: Mapping[str, Any]  # deep-merged into the settings file
    source_version: str  # ETag or file hash, recorded in the manifest
    sfsync_version: str
    settings_file: str = "settings.json"
    limits: PackageLimits = field(default_factory=PackageLimits)


@dataclass(frozen=True)
class BuiltPackage:
    """A built ZIP and what identifies it."""

    data: bytes
    sha256: str  # hex of data
    size: int
    content_sha256: str  # the published content's hash, the same for every connector of a system
    entries: tuple[str, ...]  # paths in the ZIP, in order


def build_package(
    package: PublishedPackage,
    options: BuildOptions,
    cache: CompressionCache | None = None,
    *,
    compressor: Compressor = deflate,
    workers: int = DEFAULT_WORKERS,
) -> BuiltPackage:
    """Given a published package, one connector's options and an optional compression cache,
    return the connector's ZIP: entries sorted by path, each content compressed once and taken
    from the cache where it already is.

    Raise `SettingsError` or `ReservedEntryError` (see `plan.plan_contents`) and
    `PackageTooLargeError` if the ZIP would exceed limits.max_result_bytes; nothing is returned
    in part.
    """
    contents, content_sha256 = plan_contents(
        package.files,
        package.origin,
        connector=options.connector,
        overrides=options.overrides,
        source_version=options.source_version,
        sfsync_version=options.sfsync_version,
        settings_file=options.settings_file,
        max_settings_bytes=options.limits.max_settings_bytes,
    )
    entries = tuple(sorted(contents))
    digests = {path: hashlib.sha256(contents[path]).hexdigest() for path in entries}
    distinct = {digests[path]: contents[path] for path in entries}
    compressed = compress_entries(MappingProxyType(distinct), cache, compressor, workers)
    members = [
        ZipMember(
            name=path,
            crc=zlib.crc32(contents[path]),
            size=len(contents[path]),
            compressed=compressed[digests[path]],
        )
        for path in entries
    ]
    size = zip_size(members)
    limit = options.limits.max_result_bytes
    if size > limit:
        raise PackageTooLargeError(
            f"{describe(package.origin)}: package built for {options.connector!r} is "
            f"{size:,} bytes, over the {limit:,}-byte Static Resource limit (max_result_bytes)"
        )
    data = write_zip(members, package.origin)
    return BuiltPackage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        content_sha256=content_sha256,
        entries=entries,
    )
