"""The version a build records for the published package it came from."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sfsync.package.manifest import content_hash
from sfsync.package.read import PublishedPackage


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
