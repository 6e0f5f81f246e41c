"""Issue 8, items 3-5: secrets after every command, a revoked token on one connector while the
daemon runs, and the state dir or keyring failing under a running install.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfsync_emulator import Emulator
from tests.fixtures.daemon_support import start_daemon
from tests.fixtures.site import CLIENT_ID
from tests.fixtures.sync_support import PASSPHRASE, SyncSite, sync_site
from tests.fixtures.wait import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A running emulator with sfsync's client registered."""
    with Emulator(device_interval=0) as emulator:
        emulator.register_client(CLIENT_ID, ["http://localhost:1717/OAuthCallback"])
        yield emulator


@pytest.fixture
def site(tmp_path: Path, emu: Emulator) -> SyncSite:
    """Two authorized orgs, sandbox and test."""
    orgs = {"sandbox": emu.add_org(name="sandbox"), "test": emu.add_org(name="test")}
    site = sync_site(tmp_path, emu, orgs, {"test": "verify = true"})
    site.authorize("sandbox")
    site.authorize("test")
    return site


def one_line_error(stderr: str) -> str:
    """Return the one `sfsync: error:` line of a failed run (and check it is one)."""
    lines = [line for line in stderr.splitlines() if line.startswith("sfsync: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


def test_revoked_token_on_one_connector_while_the_daemon_runs(site: SyncSite, figures: Any) -> None:
    """Revoking test's refresh token: test reports needs authorization (status, metric, health,
    exit 3 from `sync`) with a handful of log lines, sandbox keeps syncing; after a new
    authorization the daemon pushes to test without a restart.
    """
    site.publish(1)
    daemon = start_daemon(site)
    try:
        wait_until(lambda: site.live_sha256("test"), 30, "first push everywhere")
        site.orgs["test"].faults.revoke_refresh_tokens()
        site.orgs["test"].faults.expire_sessions()
        site.publish(2)
        sandbox_before = site.live_sha256("sandbox")
        wait_until(lambda: site.live_sha256("sandbox") != sandbox_before, 30, "sandbox v2")
        wait_until(
            lambda: daemon.metric("sfsync_connector_authorized", connector="lightning/test") == 0,
            30,
            "the authorized gauge to drop",
        )
        status, body = daemon.get("/healthz")
        assert status == 503
        assert any("lightning/test" in problem for problem in json.loads(body)["problems"])
        code, out, err = site.run("sync", "--connector", "lightning/test")
        assert code == 3, out + err
        site.publish(3)
        sandbox_v2 = site.live_sha256("sandbox")
        wait_until(lambda: site.live_sha256("sandbox") != sandbox_v2, 30, "sandbox v3")
        noisy = [
            line
            for line in daemon.log_lines()
            if line.get("connector") == "lightning/test"
            and line.get("result") == "needs_authorization"
        ]
        assert 1 <= len(noisy) <= 5, noisy
        # A new authorization (what `sfsync authorize` stores) and no restart:
        test_before = site.live_sha256("test")
        site.authorize("test")
        wait_until(lambda: site.live_sha256("test") != test_before, 40, "test to resume")
        wait_until(
            lambda: daemon.metric("sfsync_connector_authorized", connector="lightning/test") == 1,
            10,
            "the authorized gauge to rise",
        )
        # The gauge rises with the refresh inside the push; health follows once the push ends.
        wait_until(lambda: daemon.get("/healthz")[0] == 200, 20, "healthz 200")
        assert daemon.stop() == 0
    finally:
        daemon.kill()
    figures.add("auth faults", "revoked connector needs authorization; others synced", "yes")
    figures.add("auth faults", "log lines about it", len(noisy), held=len(noisy) <= 5)
    figures.add("auth faults", "resumed after authorize without restart", "yes")


def test_no_token_anywhere_after_every_command(site: SyncSite, figures: Any) -> None:
    """sync, status, verify, rollback, resume, build, config check and the daemon: no token
    the orgs issued is in any output, log, state file or the config; files 0600, folders 0700.
    """
    site.publish(1)
    outputs = [site.run("sync")]
    site.publish(2)
    outputs += [site.run("sync"), site.run("status", "--json"), site.run("verify")]
    outputs += [site.run("rollback", "--connector", "lightning/sandbox")]
    outputs += [site.run("resume", "--connector", "lightning/sandbox"), site.run("config", "check")]
    outputs += [
        site.run("build", "--connector", "lightning/test", "-o", str(site.site.root / "b.zip"))
    ]
    site.orgs["sandbox"].faults.expire_sessions()  # force a refresh (and its log lines)
    daemon = start_daemon(site)
    try:
        daemon.wait_ready()
        site.publish(3)
        wait_until(
            lambda: daemon.metric(
                "sfsync_sync_total", connector="lightning/sandbox", result="pushed"
            ),
            30,
            "a push",
        )
        assert daemon.stop() == 0
    finally:
        daemon.kill()
    tokens = [token for org in site.orgs.values() for token in org.issued_tokens]
    assert len(tokens) >= 4
    texts = {
        f"output {index}": code_out_err[1] + code_out_err[2]
        for index, code_out_err in enumerate(outputs)
    }
    for path in site.site.root.rglob("*"):
        if path.is_file() and path.suffix != ".zip":
            texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    environment = subprocess.run(
        ["env"], env=site.site.env, capture_output=True, text=True, check=True
    )
    texts["environment"] = environment.stdout
    leaked = [
        f"{where}: {token[:8]}..."
        for token in tokens
        for where, text in texts.items()
        if token in text
    ]
    assert leaked == []
    state = site.site.state_dir
    loose_files = [
        str(path)
        for path in [state, *state.rglob("*")]
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    ]
    assert loose_files == [], loose_files
    figures.add(
        "secrets", "tokens found in outputs, logs, files, env", len(leaked), held=not leaked
    )
    figures.add(
        "secrets", "state files/folders readable by others", len(loose_files), held=not loose_files
    )


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[None]:
    """Mount a small tmpfs at `path` (the test needs root with CAP_SYS_ADMIN, as CI has)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True
    )
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, mode: str) -> None:
    """Remount the tmpfs at `path` read-only ("ro") or read-write ("rw")."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


def integrity(state_dir: Path) -> str:
    """Return SQLite's integrity check of the state store."""
    with contextlib.closing(sqlite3.connect(state_dir / "state.sqlite3")) as database:
        return str(database.execute("PRAGMA integrity_check").fetchone()[0])


def test_state_dir_read_only_then_full_then_fixed(site: SyncSite, figures: Any) -> None:
    """A read-only state dir (exit 2), then a full one: a clear one-line error and a failing
    exit, the org and the store untouched; once fixed, the next sync converges.
    """
    state = site.site.state_dir
    with tmpfs(state, "4m"):
        site.publish(1)
        code, out, err = site.run("sync")
        assert code == 0, out + err
        live = site.live_sha256("sandbox")
        remount(state, "ro")
        site.publish(2)
        code, out, err = site.run("sync")
        assert code == 2, out + err  # a state_dir that cannot be written: SPEC section 5
        read_only_code = code
        read_only_line = one_line_error(err)
        assert "state" in read_only_line.lower()
        assert site.live_sha256("sandbox") == live
        remount(state, "rw")
        assert integrity(state) == "ok"
        filler = state / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as stream:
            stream.write(b"\0" * (8 * 1024 * 1024))  # fills the tmpfs
        code, out, err = site.run("sync")
        assert code != 0, out + err
        full_output = out + err
        assert "Traceback" not in full_output, full_output
        full_line = one_line_error(err)
        assert "state store" in full_line, full_line
        full_code = code
        filler.unlink()
        code, out, err = site.run("sync")
        assert code == 0, out + err
        assert site.live_sha256("sandbox") != live
        assert integrity(state) == "ok"
    figures.add("disk faults", "read-only state dir: exit code, one line", f"{read_only_code}, yes")
    figures.add("disk faults", "full state dir: exit code, one line", f"{full_code}, yes")
    figures.add("disk faults", "store intact and converged once fixed", "yes")


def test_keyring_missing_or_locked_then_fixed(site: SyncSite, figures: Any) -> None:
    """No passphrase, a wrong one, a missing keyring file: exit 3 with one line naming the
    keyring, nothing pushed; with the right passphrase the next sync pushes.
    """
    site.publish(1)
    env = site.site.env
    cases = {
        "no passphrase": {k: v for k, v in env.items() if k != "SFSYNC_KEYRING_PASSPHRASE"},
        "wrong passphrase": {**env, "SFSYNC_KEYRING_PASSPHRASE": "not-the-passphrase"},
    }
    lines = {}
    for name, case_env in cases.items():
        site.site.env = case_env
        code, out, err = site.run("sync")
        assert code == 3, (name, out, err)
        lines[name] = one_line_error(err)
        assert "keyring" in lines[name].lower(), lines[name]
        assert site.live_sha256("sandbox") is None
    site.site.env = env
    moved = site.keyring_file.with_suffix(".away")
    site.keyring_file.rename(moved)
    code, out, err = site.run("sync")
    assert code == 3, out + err
    assert site.live_sha256("sandbox") is None
    moved.rename(site.keyring_file)
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert site.live_sha256("sandbox") is not None
    assert integrity(site.site.state_dir) == "ok"
    assert PASSPHRASE not in json.dumps(lines)
    figures.add("keyring faults", "locked/missing: exit 3, one line, nothing pushed", "3/3")
