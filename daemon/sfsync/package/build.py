"""Build the deterministic ZIP pushed to one connector from a published package.

Connectors of one system differ only in the settings file and the manifest, so the published
files are hashed, CRC'd and compressed once (`prepare_package`) and each connector's build
(`build_prepared`) adds only its own two entries.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from sfsync.package.cache import CompressionCache
from sfsync.package.compress import DEFAULT_WORKERS, Compressor, compress_entries, deflate
from sfsync.package.errors import PackageTooLargeError, describe
from sfsync.package.limits import PackageLimits
from sfsync.package.manifest import content_hash_of_digests
from sfsync.package.plan import ReservedCheck, manifest_clash, plan_own_entries
from sfsync.package.read import PublishedPackage
from sfsync.package.zipwrite import (
    MemberRun,
    SharedPiece,
    ZipMember,
    ZipPart,
    zip_pieces_shared,
    zip_size,
)


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
    """A built ZIP and what identifies it.

    The ZIP is kept as the pieces it is written from, most of them shared by every connector
    of the package (`zipwrite.zip_pieces`): a push hashes, keeps and sends them one after
    another, and never holds a whole copy of its own. A push thread joining its 2 MB ZIP into
    a new buffer took about 2 ms of CPU, most of it the kernel handing out fresh pages.
    """

    pieces: tuple[bytes, ...]  # joined, the ZIP
    sha256: str  # hex of the ZIP
    size: int
    content_sha256: str  # the published content's hash, the same for every connector of a system
    entries: tuple[str, ...]  # paths in the ZIP, in order
    # The pieces made from bytes every connector of the publish shares (a run of published
    # members, its central records): kept once on disk however many connectors keep the build
    shared: tuple[SharedPiece, ...] = ()

    @cached_property
    def data(self) -> bytes:
        """Return the ZIP whole (joined at the first call, then kept with the build)."""
        return self.pieces[0] if len(self.pieces) == 1 else b"".join(self.pieces)


@dataclass(frozen=True)
class ZipLayout:
    """The order of one ZIP's entries and what fills it: a connector's own entry by path
    (filled per connector) or a run of published members made once (`MemberRun`).
    """

    entries: tuple[str, ...]
    slots: tuple[str | MemberRun, ...]


@dataclass(frozen=True)
class PreparedPackage:
    """A published package with every file's ZIP member made once, for all its connectors."""

    package: PublishedPackage
    content_sha256: str
    members: Mapping[str, ZipMember]  # by path, for the files as published
    reserved: ReservedCheck | None = None  # a published path taken for the manifest, if looked
    _layouts: dict[tuple[str, ...], ZipLayout] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    _layouts_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, compare=False, repr=False
    )

    def layout(self, own: Collection[str]) -> ZipLayout:
        """Given the paths of a connector's own entries, return the ZIP's layout around them,
        made once for every connector with the same own paths (usually all of a system's):
        building each connector's ZIP member by member cost more CPU than the rest of its push.
        """
        key = tuple(sorted(own))
        # Made under the lock: a cycle's push threads all ask at once, and each made its own
        # copy while none was kept yet (up to one a push thread: a tenth of the daemon's samples).
        with self._layouts_lock:
            layout = self._layouts.get(key)
            if layout is None:
                layout = self._layouts[key] = self._make_layout(key)
            return layout

    def _make_layout(self, own: tuple[str, ...]) -> ZipLayout:
        entries = tuple(sorted(set(self.package.files) | set(own)))
        slots: list[str | MemberRun] = []
        run: list[ZipMember] = []
        for path in entries:
            if path in own:
                if run:
                    slots.append(MemberRun.of(run))
                    run = []
                slots.append(path)
            else:
                run.append(self.members[path])
        if run:
            slots.append(MemberRun.of(run))
        return ZipLayout(entries, tuple(slots))


def prepare_package(
    package: PublishedPackage,
    cache: CompressionCache | None = None,
    *,
    compressor: Compressor = deflate,
    workers: int = DEFAULT_WORKERS,
    flush: bool = True,
) -> PreparedPackage:
    """Given a published package, an optional compression cache, a compressor and a thread
    count, return the package with each file hashed, CRC'd and compressed (each distinct content
    once, taken from the cache where it already is); the cache is flushed unless `flush` is
    false.
    """
    files = package.files
    digests = {path: hashlib.sha256(content).digest() for path, content in files.items()}
    distinct = {digest.hex(): files[path] for path, digest in digests.items()}
    compressed = compress_entries(
        MappingProxyType(distinct), cache, compressor, workers, flush=flush
    )
    members = {
        path: ZipMember(
            name=path,
            crc=zlib.crc32(content),
            size=len(content),
            compressed=compressed[digests[path].hex()],
        )
        for path, content in files.items()
    }
    return PreparedPackage(
        package=package,
        content_sha256=content_hash_of_digests(digests),
        members=MappingProxyType(members),
        reserved=ReservedCheck(manifest_clash(files)),
    )


def build_prepared(
    prepared: PreparedPackage,
    options: BuildOptions,
    cache: CompressionCache | None = None,
    *,
    compressor: Compressor = deflate,
) -> BuiltPackage:
    """Given a prepared package, one connector's options and an optional compression cache for
    the connector's own entries, return the connector's ZIP: entries sorted by path, the
    published files' members as prepared, and only the connector's own entries (its settings,
    the manifest) made here.

    Raise `SettingsError` or `ReservedEntryError` (see `plan.plan_own_entries`) and
    `PackageTooLargeError` if the ZIP would exceed limits.max_result_bytes; nothing is returned
    in part.
    """
    package = prepared.package
    own, content_sha256 = plan_own_entries(
        package.files,
        package.origin,
        connector=options.connector,
        overrides=options.overrides,
        source_version=options.source_version,
        sfsync_version=options.sfsync_version,
        settings_file=options.settings_file,
        max_settings_bytes=options.limits.max_settings_bytes,
        content_sha256=prepared.content_sha256,
        reserved=prepared.reserved,
    )
    own_digests = {path: hashlib.sha256(content).hexdigest() for path, content in own.items()}
    compressed = compress_entries(
        MappingProxyType({own_digests[path]: content for path, content in own.items()}),
        cache,
        compressor,
        workers=1,  # a few hundred bytes: threads would cost more than they save
    )
    layout = prepared.layout(own)
    parts: list[ZipPart] = [
        ZipMember(
            name=slot,
            crc=zlib.crc32(own[slot]),
            size=len(own[slot]),
            compressed=compressed[own_digests[slot]],
        )
        if isinstance(slot, str)
        else slot
        for slot in layout.slots
    ]
    size = zip_size(parts)
    limit = options.limits.max_result_bytes
    if size > limit:
        raise PackageTooLargeError(
            f"{describe(package.origin)}: the ZIP built for {options.connector!r} is "
            f"{size:,} bytes, over the {limit:,}-byte Salesforce Static Resource limit, which "
            f"no setting raises; publish a package with less content (drop or shrink files: "
            f"its {sum(len(data) for data in package.files.values()):,} bytes of files must "
            f"compress to under {limit:,})"
        )
    pieces, shared = zip_pieces_shared(parts, package.origin, size)
    first = layout.slots[0] if layout.slots else None
    if isinstance(first, MemberRun):
        # The ZIP starts with a run every connector shares: hash it once, not once a push.
        digest = first.local_hash.copy()
        rest = pieces[1:]
    else:
        digest = hashlib.sha256()
        rest = pieces
    for piece in rest:
        digest.update(piece)
    return BuiltPackage(
        pieces=pieces,
        sha256=digest.hexdigest(),
        size=sum(len(piece) for piece in pieces),
        content_sha256=content_sha256,
        entries=layout.entries,
        shared=shared,
    )


def build_package(
    package: PublishedPackage,
    options: BuildOptions,
    cache: CompressionCache | None = None,
    *,
    compressor: Compressor = deflate,
    workers: int = DEFAULT_WORKERS,
) -> BuiltPackage:
    """Given a published package, one connector's options and an optional compression cache,
    return the connector's ZIP (see `build_prepared`); to build for several connectors,
    prepare the package once and call `build_prepared` for each.
    """
    # One flush for the whole build: the cache writes what both steps put as one pack.
    prepared = prepare_package(package, cache, compressor=compressor, workers=workers, flush=False)
    return build_prepared(prepared, options, cache, compressor=compressor)
