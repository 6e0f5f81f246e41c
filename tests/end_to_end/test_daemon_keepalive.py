"""The daemon's keep-alive end to end: `sfsync run` on the cryptfile keyring, nothing published,
refreshes an idle connector once its last grant is `keepalive` old, proves it in the state store
and leaves the keyring file as it was (a refresh that changed nothing writes nothing there).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sfsync.state.store import DATABASE_NAME
from sfsync_emulator import Emulator
from tests.fixtures.daemon_support import ready_daemon
from tests.fixtures.sync_support import sync_site
from tests.fixtures.wait import wait_until

pytestmark = pytest.mark.slow

CONNECTOR = "lightning/sandbox"
# The daemon's first keep-alive pass runs 10 s after start (service.py); then hourly.
KEEPALIVE_SECONDS = 60.0


def proven_at(state_dir: Path) -> datetime | None:
    """Return the connector's `token_proven_at` as the state store holds it now, or None."""
    path = state_dir / DATABASE_NAME
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT token_proven_at FROM connectors WHERE connector = ?", (CONNECTOR,)
        ).fetchone()
    finally:
        db.close()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def test_keep_alive_refreshes_an_idle_connector_and_proves_it_in_the_store(
    tmp_path: Path, emu: Emulator
) -> None:
    """A connector whose last grant is older than `keepalive` is refreshed by the first pass
    with nothing published: one token request, the refresh counted ok, the time in the state
    store, the keyring file byte for byte as before.
    """
    org = emu.add_org(name="sandbox")
    site = sync_site(tmp_path, emu, {"sandbox": org}, {})
    config = site.site.config
    text = config.read_text().replace("concurrency = 4", 'concurrency = 4\nkeepalive = "1s"')
    config.write_text(text)
    site.authorize("sandbox")
    keyring_file = site.keyring.cryptfile_path
    assert keyring_file is not None
    before = keyring_file.read_bytes()
    tokens_before = org.count(path_prefix="/services/oauth2/token")
    started = datetime.now(UTC)
    with ready_daemon(site) as daemon:
        wait_until(
            lambda: (proven_at(site.site.state_dir) or started) > started,
            KEEPALIVE_SECONDS,
            "the keep-alive's proof in the state store",
        )
        assert daemon.metric("sfsync_token_refresh_total", connector=CONNECTOR, result="ok") == 1
        events = [line.get("event") for line in daemon.log_lines()]
        assert "keep-alive refresh" in events
    assert org.count(path_prefix="/services/oauth2/token") == tokens_before + 1
    assert keyring_file.read_bytes() == before
