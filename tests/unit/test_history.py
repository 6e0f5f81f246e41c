"""`sfsync history`: the kept builds of a connector from a real state store and archive, and
`rollback --to` with a prefix that matches none of them listing them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sfsync.actions.history import history_rows
from sfsync.cli import main
from sfsync.state.packages import PackageArchive
from sfsync.state.store import StateStore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
OLD, NEW, FAILED = "a1" * 32, "b2" * 32, "c3" * 32
CONFIG = """
[daemon]
state_dir = "state"
[oauth]
client_id = "x"
[keyring]
backend = "cryptfile"
cryptfile_path = "keyring/sfsync.cfg"
[systems.lightning]
resource = "WalkMeLightning"
source = { type = "dir", path = "drop" }
[systems.lightning.environments.sandbox]
"""
CONNECTOR = "lightning/sandbox"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config whose state holds three kept builds of lightning/sandbox: an old one pushed,
    a newer one pushed (live), and a newest whose push failed.
    """
    path = tmp_path / "sfsync.toml"
    path.write_text(CONFIG)
    state_dir = tmp_path / "state"
    store = StateStore.open(state_dir)
    archive = PackageArchive(state_dir)
    try:
        for minutes, sha256, outcome in ((30, OLD, "pushed"), (20, NEW, "pushed"),
                                         (10, FAILED, "failed")):  # fmt: skip
            at = NOW - timedelta(minutes=minutes)
            archive.save(CONNECTOR, sha256, b"zip " + sha256.encode())
            store.record_build(
                CONNECTOR,
                sha256=sha256,
                content_sha256="c" * 64,
                source_version=f"sha256:{sha256[:8]}",
                size=100,
                now=at,
                source_file=f"/srv/drop/walkme-{minutes}.zip",
            )
            push = store.begin_push(
                CONNECTOR,
                sha256=sha256,
                content_sha256="c" * 64,
                source_version="v",
                api="tooling",
                now=at,
            )
            if outcome == "pushed":
                store.finish_push(push, resource_id="081A", now=at + timedelta(seconds=5))
            else:
                store.fail_push(push, error="HTTP 500", now=at + timedelta(seconds=5))
    finally:
        store.close()
    return path


def test_history_rows_newest_first(config: Path) -> None:
    """Each kept build, newest first, with its source file, when it was pushed and went live,
    its last result, and which one is live now.
    """
    rows = history_rows(config.parent / "state", CONNECTOR)
    assert [row["sha256"] for row in rows] == [FAILED, NEW, OLD]
    assert [row["result"] for row in rows] == ["failed", "pushed", "pushed"]
    assert [row["live"] for row in rows] == [False, True, False]
    assert rows[0]["live_since"] is None
    assert rows[1]["live_since"] == (NOW - timedelta(minutes=20, seconds=-5)).isoformat()
    assert rows[2]["live_since"] == (NOW - timedelta(minutes=30, seconds=-5)).isoformat()
    assert rows[2]["source_file"] == "/srv/drop/walkme-30.zip"
    assert rows[0]["error"] == "HTTP 500"


def test_history_without_a_store_is_empty(tmp_path: Path) -> None:
    """Before any sync there is no store: history lists nothing and creates nothing."""
    assert history_rows(tmp_path / "state", CONNECTOR) == []
    assert not (tmp_path / "state").exists()


def test_history_command_json_and_table(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`history --json` prints the rows; the plain table shows each short hash and file name."""
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), "history", "--connector", CONNECTOR, "--json"])
    assert exited.value.code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["connector"] == CONNECTOR
    assert [row["sha256"] for row in report["builds"]] == [FAILED, NEW, OLD]
    with pytest.raises(SystemExit):
        main(["--config", str(config), "history", "--connector", CONNECTOR])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["SHA256", "SOURCE", "BUILT", "PUSHED", "LIVE", "RESULT"]
    assert lines[2].startswith(NEW[:12])
    assert "walkme-20.zip" in lines[2]
    assert "now, since" in lines[2]


def test_rollback_to_an_unknown_prefix_lists_the_builds(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rollback --to` with a prefix no kept build has exits 2 with a one-line error, then the
    kept builds to pick from, without opening the keyring (which has no passphrase here).
    """
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), "rollback", "--connector", CONNECTOR, "--to", "ffff"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "sfsync: error: connector lightning/sandbox: no kept build starts with 'ffff'"
    assert err[1].split()[0] == "SHA256"
    assert [line[:12] for line in err[2:]] == [FAILED[:12], NEW[:12], OLD[:12]]
