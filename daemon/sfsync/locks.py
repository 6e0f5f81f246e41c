"""The name of every lock file sfsync keeps under `state_dir`, in one place.

The names are part of the state_dir's layout: a CLI started by cron during an upgrade must meet
the daemon's locks where the old version put them, so a name here never changes.
(An HTTP source's download lock, `fetch.lock`, lives in that source's own cache folder.)
"""

from __future__ import annotations

from pathlib import Path


def daemon_lock_path(state_dir: Path) -> Path:
    """Given the state dir, return the lock that admits one `sfsync run` to it."""
    return state_dir / "daemon.lock"


def keyring_lock_path(state_dir: Path) -> Path:
    """Given the state dir, return the lock around every keyring read and write."""
    return state_dir / "keyring.lock"


def refresh_lock_path(state_dir: Path, connector: str) -> Path:
    """Given the state dir and "system/env", return the file that serialises its refreshes."""
    return state_dir / "locks" / ("refresh." + connector.replace("/", ".") + ".lock")


def push_lock_path(state_dir: Path, connector: str) -> Path:
    """Given the state dir and "system/env", return the file that admits one push of it."""
    system, environment = connector.split("/", 1)
    return state_dir / "locks" / system / f"{environment}.push.lock"
