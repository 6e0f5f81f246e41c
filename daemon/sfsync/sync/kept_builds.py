"""The builds kept per connector for rollback, verify and history: which to keep, the pruning
of the others, and a kept build loaded back to be pushed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from sfsync.errors import StateError
from sfsync.package.build import BuiltPackage
from sfsync.state.packages import PackageArchive
from sfsync.state.records import BuildRecord
from sfsync.state.store import StateStore

log = structlog.get_logger("sfsync.push")


@dataclass(frozen=True)
class KeptBuild:
    """A kept build and the source version it was built from."""

    built: BuiltPackage
    source_version: str


def builds_to_keep(builds: Sequence[BuildRecord], keep_packages: int, live: str | None) -> set[str]:
    """Given a connector's kept builds (newest first), how many to keep and the live build's
    hash, return the hashes to keep: the newest `keep_packages` and the live one.
    """
    keep = {build.sha256 for build in builds[:keep_packages]}
    if live is not None:
        keep.add(live)
    return keep


def prune_kept_builds(
    store: StateStore, archive: PackageArchive, connector: str, keep_packages: int, live: str
) -> None:
    """Given a connector and its live build, delete the kept builds `builds_to_keep` leaves
    out, their files first, then their rows (one transaction); if the files cannot be deleted,
    log a warning and leave both for the next prune.
    """
    builds = store.builds(connector)
    keep = builds_to_keep(builds, keep_packages, live)
    try:
        removed = set(archive.prune(connector, keep))
    except StateError as error:
        # The push this follows succeeded: a disk that refuses the clean-up must not report
        # it failed. The next push prunes again.
        log.warning("kept builds not pruned", connector=connector, error=str(error))
        return
    removed |= {build.sha256 for build in builds if build.sha256 not in keep}
    if removed:
        store.forget_builds(connector, sorted(removed))


def load_kept_build(
    store: StateStore, archive: PackageArchive, connector: str, sha256: str
) -> KeptBuild:
    """Given a connector and a kept build's full hash, return that build as it was pushed.

    Raise StateError if its file cannot be read.
    """
    record = next((build for build in store.builds(connector) if build.sha256 == sha256), None)
    data = archive.load(connector, sha256)
    built = BuiltPackage(
        pieces=(data,),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        content_sha256=record.content_sha256 if record else "",
        entries=(),
    )
    return KeptBuild(built, record.source_version if record else "rollback")
