"""The limits a published package must stay within to be read and built."""

from __future__ import annotations

from dataclasses import dataclass

from sfsync.config.schema import Config

MIB = 1024 * 1024


@dataclass(frozen=True)
class PackageLimits:
    """Bounds on what a package may expand to; every one is checked against real bytes read."""

    max_expanded_bytes: int = 200 * MIB  # total uncompressed bytes, junk included
    max_entries: int = 10_000  # entries in the archive or files and directories in a tree
    # Per entry, uncompressed/compressed; only past ratio_floor_bytes, since small text files
    # legitimately compress far better than any bomb threshold would allow.
    max_ratio: int = 200
    ratio_floor_bytes: int = MIB
    max_settings_bytes: int = MIB
    max_result_bytes: int = 5_242_880  # Salesforce's Static Resource limit


def package_limits(config: Config) -> PackageLimits:
    """Given a config, return the limits its `[package]` section sets."""
    settings = config.package
    return PackageLimits(
        max_expanded_bytes=settings.max_expanded_bytes,
        max_entries=settings.max_entries,
        max_ratio=settings.max_ratio,
        max_settings_bytes=settings.max_settings_bytes,
    )
