"""One `sfsync run` per state_dir: a second one exits 2 naming the first's pid, before it binds
a port, tells systemd anything or starts a job; the first keeps running.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sfsync_emulator import Emulator
from tests.fixtures.daemon_support import Daemon, ready_daemon
from tests.fixtures.sync_support import SyncSite, sync_site

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]) -> SyncSite:
    """One authorized org, tokens in the Secret Service."""
    site = sync_site(
        tmp_path, emu, {"sandbox": emu.add_org(name="sandbox")}, {}, secret_service_here
    )
    site.authorize("sandbox")
    return site


@pytest.fixture
def daemon(site: SyncSite) -> Iterator[Daemon]:
    """`sfsync run` started and READY."""
    with ready_daemon(site) as running:
        yield running


@pytest.mark.parametrize("metrics", ["same port", "metrics off"])
def test_second_daemon_on_a_state_dir_exits_2_naming_the_holder(
    site: SyncSite, daemon: Daemon, metrics: str
) -> None:
    """A second `sfsync run` on the state_dir (with the same config, or with metrics off so no
    port could stop it) exits 2 with one line naming the first's pid, starts nothing, and the
    first still runs and answers.
    """
    config = site.site.config
    if metrics == "metrics off":
        config = config.with_name("second.toml")
        config.write_text(
            site.site.config.read_text().replace(
                f'metrics_listen = "127.0.0.1:{daemon.port}"', 'metrics_listen = ""'
            )
        )
        assert 'metrics_listen = ""' in config.read_text()
    site.site.config, first_config = config, site.site.config
    try:
        code, out, err = site.run("run", timeout=60)
    finally:
        site.site.config = first_config
    lines = err.splitlines()
    assert code == 2, out + err
    assert len(lines) == 1, err
    assert lines[0].startswith("sfsync: error: "), err
    assert f"pid {daemon.process.pid}" in lines[0], err
    assert "Traceback" not in out + err
    assert "daemon started" not in out + err
    assert daemon.process.poll() is None, "the first daemon must keep running"
    assert daemon.get("/healthz")[0] == 200
    assert daemon.stop() == 0
