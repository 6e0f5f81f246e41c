"""Building the ZIP that would be pushed to one connector, from its source or a given package."""

from __future__ import annotations

from sfsync import __version__
from sfsync.config import Connector
from sfsync.package.build import BuildOptions, BuiltPackage, build_package
from sfsync.package.cache import CompressionCache
from sfsync.package.limits import PackageLimits
from sfsync.package.read import read_package
from sfsync.package.version import source_version
from sfsync.sources.source import Package


def build_for_connector(
    connector: Connector,
    package: Package,
    limits: PackageLimits,
    cache: CompressionCache | None = None,
) -> BuiltPackage:
    """Given a connector, a published package, the limits and an optional compression cache,
    return the ZIP to push to it.

    Raise PackageError naming the entry if the package is refused.
    """
    published = read_package(package.path, limits)
    options = BuildOptions(
        connector=connector.name,
        overrides=connector.overrides,
        source_version=package.version or source_version(package.path, published),
        sfsync_version=__version__,
        settings_file=connector.settings_file,
        limits=limits,
    )
    return build_package(published, options, cache)
