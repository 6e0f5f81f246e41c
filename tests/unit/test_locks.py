"""Lock files keep the names earlier versions gave them, so old and new processes meet."""

from __future__ import annotations

from pathlib import Path

from sfsync.locks import daemon_lock_path, keyring_lock_path, push_lock_path, refresh_lock_path

STATE = Path("/var/lib/sfsync")


def test_lock_paths_keep_their_names_on_disk() -> None:
    """Each lock sits where earlier versions put it: an upgraded daemon and a cron sync share it."""
    assert daemon_lock_path(STATE) == STATE / "daemon.lock"
    assert keyring_lock_path(STATE) == STATE / "keyring.lock"
    assert refresh_lock_path(STATE, "lightning/uat") == STATE / "locks/refresh.lightning.uat.lock"
    assert push_lock_path(STATE, "lightning/uat") == STATE / "locks/lightning/uat.push.lock"
