"""Describe what was built, in the `sfsync-manifest.json` added at the package root."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

MANIFEST_NAME = "sfsync-manifest.json"
MANIFEST_VERSION = 1


def content_hash(files: Mapping[str, bytes]) -> str:
    """Given a package's files, return the hex SHA-256 identifying that content as published.

    Paths are hashed in sorted order, each NUL-terminated (no path may hold a NUL) and followed
    by the 32-byte SHA-256 of its content, so no two different packages share the framing.
    """
    return content_hash_of_digests(
        {path: hashlib.sha256(content).digest() for path, content in files.items()}
    )


def content_hash_of_digests(digests: Mapping[str, bytes]) -> str:
    """Given each file's 32-byte SHA-256 by path, return the package's content hash, as
    `content_hash` gives it for the files themselves.
    """
    digest = hashlib.sha256()
    for path in sorted(digests):
        digest.update(path.encode("utf-8") + b"\0")
        digest.update(digests[path])
    return digest.hexdigest()


def render_manifest(
    *,
    content_sha256: str,
    source_version: str,
    connector: str,
    sfsync_version: str,
    settings_file: str,
    entry_count: int,
) -> bytes:
    """Given what identifies a build, return the manifest's bytes.

    entry_count is the number of package files in the ZIP, the manifest itself not included.
    The form is fixed (sorted keys, two-space indent, ASCII, trailing newline) and holds no
    wall-clock time, so equal builds give equal bytes.
    """
    document = {
        "manifest_version": MANIFEST_VERSION,
        "content_sha256": content_sha256,
        "source_version": source_version,
        "connector": connector,
        "sfsync_version": sfsync_version,
        "settings_file": settings_file,
        "entry_count": entry_count,
    }
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=True) + "\n").encode(
        "ascii"
    )
