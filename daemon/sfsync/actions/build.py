"""Building the ZIP that would be pushed to one connector, from its source or a given package."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sfsync import __version__
from sfsync.config import Connector
from sfsync.config.schema import Config, DirSource
from sfsync.errors import SourceError
from sfsync.package.build import BuildOptions, BuiltPackage, build_package
from sfsync.package.cache import CompressionCache
from sfsync.package.limits import PackageLimits
from sfsync.package.manifest import content_hash
from sfsync.package.read import PublishedPackage, read_package
from sfsync.sources.directory import find_package
from sfsync.sources.located import Located


def package_limits(config: Config) -> PackageLimits:
    """Given a config, return the limits its `[package]` section sets."""
    settings = config.package
    return PackageLimits(
        max_expanded_bytes=settings.max_expanded_bytes,
        max_entries=settings.max_entries,
        max_ratio=settings.max_ratio,
        max_settings_bytes=settings.max_settings_bytes,
    )


def locate_package(connector: Connector, now: float) -> Located:
    """Given a connector and the time, return the package its source offers now.

    Raise SourceError if the source has no complete package, or is an http source (those
    need a download: `SourceLocator`, which `build`, `sync` and the daemon use, does both kinds).
    """
    source = connector.source
    if isinstance(source, DirSource):
        return Located(find_package(source.path, now, source.settle))
    raise SourceError(
        f"connector {connector.name}: its source is the URL {source.url}, which this locator "
        "does not download (a drop folder only); locate it with SourceLocator"
    )


def source_version(package_path: Path, published: PublishedPackage) -> str:
    """Given a published package and what was read from it, return the version for the manifest.

    A ZIP is identified by the SHA-256 of its bytes, as the publisher shipped it; a folder has
    no such bytes, so by the hash of its files.
    """
    if package_path.is_dir():
        return f"tree:{content_hash(published.files)}"
    digest = hashlib.sha256()
    with package_path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def build_for_connector(
    connector: Connector,
    located: Located,
    limits: PackageLimits,
    cache: CompressionCache | None = None,
) -> BuiltPackage:
    """Given a connector, a located package, the limits and an optional compression cache,
    return the ZIP to push to it.

    Raise PackageError naming the entry if the package is refused.
    """
    published = read_package(located.path, limits)
    options = BuildOptions(
        connector=connector.name,
        overrides=connector.overrides,
        source_version=located.version or source_version(located.path, published),
        sfsync_version=__version__,
        settings_file=connector.settings_file,
        limits=limits,
    )
    return build_package(published, options, cache)
