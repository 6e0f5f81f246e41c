"""`sfsync history`: the builds kept for one connector (what `rollback --to` picks from), with
the published file each came from and when it was pushed and live, from the state store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sfsync.state.packages import PackageArchive
from sfsync.state.records import BuildRecord, ConnectorState, PushRecord
from sfsync.state.store import DATABASE_NAME, StateStore

HEADERS = ("SHA256", "SOURCE", "BUILT", "PUSHED", "LIVE", "RESULT")
_HASH_WIDTH = 12
# Push attempts read per connector: far more than `keep_packages` builds ever have.
_PUSHES_READ = 1000


def history_rows(state_dir: Path, connector: str) -> list[dict[str, Any]]:
    """Given the state dir and a connector, return its kept builds, newest first, each as a row:
    hash, source file and version, size, when built, when last pushed (and the result), when it
    last went live and whether it is live now. The store is read only if it exists.
    """
    if not (state_dir / DATABASE_NAME).exists():
        return []
    store = StateStore.open(state_dir)
    try:
        builds = store.builds(connector)
        pushes = store.history(connector, limit=_PUSHES_READ)
        state = store.connector(connector)
    finally:
        store.close()
    on_disk = set(PackageArchive(state_dir).kept(connector))
    return [build_row(build, pushes, state) for build in builds if build.sha256 in on_disk]


def build_row(
    build: BuildRecord, pushes: Sequence[PushRecord], state: ConnectorState
) -> dict[str, Any]:
    """Given a kept build, the connector's pushes (newest first) and its state, return the
    build's history row.
    """
    own = [push for push in pushes if push.sha256 == build.sha256]
    last = own[0] if own else None
    went_live = next((push for push in own if push.outcome == "pushed"), None)
    live = state.live_sha256 == build.sha256
    live_since = state.live_since if live else None
    if live_since is None and went_live is not None:
        live_since = went_live.finished_at
    return {
        "sha256": build.sha256,
        "source_file": build.source_file,
        "source_version": build.source_version,
        "size": build.size,
        "built_at": build.built_at.isoformat(),
        "pushed_at": last.started_at.isoformat() if last else None,
        "result": last.outcome if last else None,
        "error": last.error if last else None,
        "live": live,
        "live_since": live_since.isoformat() if live_since else None,
    }


def history_cells(row: dict[str, Any]) -> tuple[str, ...]:
    """Given a history row, return its cells under HEADERS; "-" for nothing."""
    live = "-"
    if row["live_since"]:
        live = ("now, since " if row["live"] else "") + _short_time(row["live_since"])
    elif row["live"]:
        live = "now"
    return (
        row["sha256"][:_HASH_WIDTH],
        Path(row["source_file"]).name if row["source_file"] else "-",
        _short_time(row["built_at"]),
        _short_time(row["pushed_at"]) if row["pushed_at"] else "-",
        live,
        row["result"] or "-",
    )


def _short_time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")
