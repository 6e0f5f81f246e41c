"""The progress display: rich on a terminal, nothing but the results table otherwise."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from sfsync_emulator import Emulator
from tests.fixtures.site import SFSYNC
from tests.fixtures.sync_support import SyncSite, sync_site

pytestmark = pytest.mark.slow

ESCAPE = "\x1b["


def run_on_a_terminal(site: SyncSite, *args: str) -> tuple[int, str]:
    """Run the real CLI with a pseudo-terminal as its stdout and stderr; return (exit code,
    everything it wrote to the terminal).
    """
    master, slave = pty.openpty()
    env = {**site.site.env, "TERM": "xterm-256color", "COLUMNS": "120"}
    process = subprocess.Popen(
        [str(SFSYNC), "--config", str(site.site.config), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last writer has gone
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        code = process.wait(timeout=120)
    return code, b"".join(chunks).decode(errors="replace")


@pytest.fixture
def site(tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]) -> SyncSite:
    """Two authorized orgs and one published package."""
    orgs = {name: emu.add_org(name=name) for name in ("sandbox", "uat")}
    site = sync_site(tmp_path, emu, orgs, {}, secret_service_here)
    for name in orgs:
        site.authorize(name)
    site.publish(1)
    return site


def test_a_terminal_gets_a_progress_bar_and_the_results(site: SyncSite) -> None:
    """On a terminal, a rich progress bar counts connectors (n/2) while the pushes run; the
    results table follows.
    """
    code, shown = run_on_a_terminal(site, "sync")
    assert code == 0, shown
    assert ESCAPE in shown, shown
    assert "/2" in shown, shown
    assert "syncing" in shown or "lightning/" in shown, shown
    assert "pushed" in shown, shown


def test_a_pipe_gets_the_results_only(site: SyncSite) -> None:
    """Piped (as under systemd or cron), the output is the plain results table: no escape
    codes, no bar.
    """
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert ESCAPE not in out + err
    assert "/2" not in out
    assert out.splitlines()[0].split() == ["CONNECTOR", "RESULT", "DETAIL"]
