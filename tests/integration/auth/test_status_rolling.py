"""`status` past `LIVE_CHECKS_PER_RUN` connectors (made 2 here, of 5): the least recently proven
are checked live, the others reported from the keyring and the state store, and a refusal
found live is still shown (exit 3) by a later run that does not check that connector. Run
in-process through the CLI, on a cryptfile keyring, against emulated orgs over HTTPS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from keyrings.cryptfile.cryptfile import CryptFileKeyring

from sfsync.actions import status
from sfsync.auth_wiring import auth_deps
from sfsync.cli import main
from sfsync.config import LoadedConfig, parse_config
from sfsync.state.store import StateStore
from sfsync_emulator import OrgHandle
from tests.fixtures.in_process import drop_ca_bundle_env, emulator_for
from tests.fixtures.site import authorization, config_head

CLIENT = "sfsync-status-rolling"
PASSPHRASE = "rolling-passphrase"
CONNECTORS = [f"lightning/env{index}" for index in range(5)]


@dataclass
class Site:
    """Five connectors, each on its own emulated org, authorized in a cryptfile keyring, with
    a state store.
    """

    loaded: LoadedConfig
    orgs: dict[str, OrgHandle]

    def status(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, dict[str, Any]]]:
        """Run `status --json` in-process; return its exit status and rows by connector."""
        with pytest.raises(SystemExit) as exited:
            main(["--config", str(self.loaded.path), "status", "--json"])
        report = json.loads(capsys.readouterr().out)
        code = exited.value.code
        return int(code) if isinstance(code, int) else 1, {
            row["connector"]: row for row in report["connectors"]
        }

    def prove(self, proofs: dict[str, datetime]) -> None:
        """Record token proofs in the state store, as earlier runs would have."""
        store = StateStore.open(self.loaded.config.daemon.state_dir)
        try:
            store.record_token_proofs(proofs)
        finally:
            store.close()


def checked_since(rows: dict[str, dict[str, Any]], started: datetime) -> set[str]:
    """Return the connectors whose token was proven at or after `started` (checked live)."""
    return {
        name
        for name, row in rows.items()
        if row["auth_checked_at"] is not None
        and datetime.fromisoformat(row["auth_checked_at"]) >= started
    }


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The site, its Argon2 made cheap, two live checks per run."""
    drop_ca_bundle_env(monkeypatch)
    monkeypatch.setattr(CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(CryptFileKeyring, "memory_cost", 8)
    monkeypatch.setattr(CryptFileKeyring, "parallelism", 1)
    monkeypatch.setattr(status, "LIVE_CHECKS_PER_RUN", 2)
    monkeypatch.setenv("SFSYNC_KEYRING_PASSPHRASE", PASSPHRASE)
    with emulator_for(CLIENT) as emu:
        lines = [
            *config_head(tmp_path, CLIENT, emu.ca_path),
            "[keyring]",
            'backend = "cryptfile"',
            f'cryptfile_path = "{tmp_path / "keyring" / "sfsync.cfg"}"',
            "[systems.lightning]",
            'resource = "WalkMeLightning"',
            f'source = {{ type = "dir", path = "{tmp_path / "drop"}", settle = "0s" }}',
        ]
        orgs = {}
        for name in CONNECTORS:
            environment = name.split("/")[1]
            orgs[name] = emu.add_org(name=environment)
            lines += [
                f"[systems.lightning.environments.{environment}]",
                f'login_url = "{orgs[name].instance_url}"',
            ]
        config = tmp_path / "sfsync.toml"
        config.write_text("\n".join(lines) + "\n")
        loaded = parse_config(config.read_text(), config)
        tokens = auth_deps(loaded, {"SFSYNC_KEYRING_PASSPHRASE": PASSPHRASE}).store
        for name, org in orgs.items():
            tokens.put(name, authorization(org, CLIENT))
        StateStore.open(loaded.config.daemon.state_dir).close()
        yield Site(loaded, orgs)


def test_the_least_recently_proven_are_checked_first(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """Never-proven connectors are checked first, then the oldest proofs; the unchecked rows
    show their stored proof and their keyring authorization; the next run moves on.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    stored = {
        "lightning/env0": now - timedelta(hours=1),
        "lightning/env1": now - timedelta(hours=3),
        "lightning/env3": now - timedelta(hours=2),
    }
    site.prove(stored)
    started = datetime.now(UTC)
    code, rows = site.status(capsys)
    assert code == 0
    assert checked_since(rows, started) == {"lightning/env2", "lightning/env4"}
    assert {name: rows[name]["auth_checked_at"] for name in stored} == {
        name: at.isoformat() for name, at in stored.items()
    }
    assert all(row["authorized"] is True and row["auth_error"] is None for row in rows.values())
    started = datetime.now(UTC)
    code, rows = site.status(capsys)
    assert code == 0
    assert checked_since(rows, started) == {"lightning/env1", "lightning/env3"}
    assert rows["lightning/env0"]["auth_checked_at"] == stored["lightning/env0"].isoformat()


def test_a_refusal_found_live_persists_to_a_run_that_does_not_check_it(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token refused live needs authorization (exit 3); the next run checks others, and
    still shows it refused from the state store (exit 3), with the command to run.
    """
    site.orgs["lightning/env0"].faults.revoke_refresh_tokens()
    started = datetime.now(UTC)
    code, rows = site.status(capsys)
    assert code == 3
    assert checked_since(rows, started) == {"lightning/env1"}
    refused = rows["lightning/env0"]
    assert (refused["authorized"], refused["needs_authorization"]) == (False, True)
    assert [rows[name]["auth_checked_at"] for name in CONNECTORS[2:]] == [None, None, None]
    assert all(rows[name]["authorized"] is True for name in CONNECTORS[1:])
    started = datetime.now(UTC)
    code, rows = site.status(capsys)
    assert code == 3
    assert checked_since(rows, started) == {"lightning/env2", "lightning/env3"}
    refused = rows["lightning/env0"]
    assert (refused["authorized"], refused["needs_authorization"]) == (False, True)
    assert "sfsync authorize" in refused["auth_error"]
    assert refused["auth_checked_at"] is None
    assert all(rows[name]["needs_authorization"] is False for name in CONNECTORS[1:])
