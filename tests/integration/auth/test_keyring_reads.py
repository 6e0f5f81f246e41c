"""How often a command reads the cryptfile keyring, counted in-process on the real backend
against emulated orgs: each entry at most once per command, each Argon2 key at most once.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import argon2.low_level
import pytest
from keyrings.cryptfile.cryptfile import CryptFileKeyring

from sfsync.actions.status import status_rows
from sfsync.auth_wiring import auth_deps
from sfsync.config import LoadedConfig, parse_config
from sfsync.locks import keyring_lock_path
from sfsync.sync.runtime import open_runtime
from sfsync.tokens.cryptfile import FastCryptFileKeyring
from sfsync.tokens.rekey import reseal_cryptfile
from tests.fixtures.in_process import drop_ca_bundle_env, emulator_for
from tests.fixtures.site import authorization, config_head

CLIENT = "sfsync-keyring-reads"
CONNECTORS = 4
ENVIRON = {"SFSYNC_KEYRING_PASSPHRASE": "reads-passphrase"}


class Counts:
    """Entries the backend was asked for (entries read) and of Argon2 (keys derived)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[str] = []
        self.derivations = 0
        real_get = FastCryptFileKeyring.get_passwords
        real_hash = argon2.low_level.hash_secret_raw

        # sfsync's cryptfile reads every entry, one or many, through get_passwords.
        def get_passwords(backend: Any, service: str, usernames: Collection[str]) -> Any:
            self.reads.extend(usernames)
            return real_get(backend, service, usernames)

        def hash_secret_raw(*args: Any, **kwargs: Any) -> bytes:
            self.derivations += 1
            return real_hash(*args, **kwargs)

        monkeypatch.setattr(FastCryptFileKeyring, "get_passwords", get_passwords)
        monkeypatch.setattr(argon2.low_level, "hash_secret_raw", hash_secret_raw)

    def reset(self) -> None:
        """Forget what was counted so far."""
        self.reads.clear()
        self.derivations = 0


def package() -> bytes:
    """Return a small published package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("settings.json", json.dumps({"active": True}))
        archive.writestr("content/app.js", "// content\n")
    return buffer.getvalue()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoadedConfig]:
    """A config of CONNECTORS emulated orgs, each authorized in a cryptfile keyring written
    by the stock backend (a salt per value: the costliest file to read), Argon2 made cheap.
    """
    drop_ca_bundle_env(monkeypatch)
    monkeypatch.setattr(CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(CryptFileKeyring, "memory_cost", 8)
    monkeypatch.setattr(CryptFileKeyring, "parallelism", 1)
    keyring_file = tmp_path / "keyring" / "sfsync.cfg"
    keyring_file.parent.mkdir(mode=0o700)
    with emulator_for(CLIENT) as emu:
        lines = [
            *config_head(tmp_path, CLIENT, emu.ca_path),
            "[keyring]",
            'backend = "cryptfile"',
            f'cryptfile_path = "{keyring_file}"',
            "[systems.lightning]",
            'resource = "WalkMeLightning"',
            f'source = {{ type = "dir", path = "{tmp_path / "drop"}", settle = "0s" }}',
        ]
        stock = CryptFileKeyring()
        stock.file_path = str(keyring_file)
        stock.keyring_key = ENVIRON["SFSYNC_KEYRING_PASSPHRASE"]
        for index in range(CONNECTORS):
            org = emu.add_org(name=f"env{index}")
            lines += [
                f"[systems.lightning.environments.env{index}]",
                f'login_url = "{org.instance_url}"',
            ]
            stock.set_password(
                "sfsync", f"lightning/env{index}", authorization(org, CLIENT).to_json()
            )
        (tmp_path / "drop").mkdir()
        (tmp_path / "drop" / "walkme-1.zip").write_bytes(package())
        config = tmp_path / "sfsync.toml"
        config.write_text("\n".join(lines) + "\n")
        yield parse_config(config.read_text(), config)


@pytest.mark.slow
def test_status_reads_each_entry_once(site: LoadedConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """`status` with N authorized connectors (each refreshed live) reads the keyring N times
    and derives at most N + 1 keys (the entries' and the reference's).
    """
    counts = Counts(monkeypatch)
    deps = auth_deps(site, ENVIRON)
    opened = counts.derivations
    counts.reset()
    rows = status_rows(site.connectors, deps)
    assert [row.authorized for row in rows] == [True] * CONNECTORS
    assert [row.auth_error for row in rows] == [None] * CONNECTORS
    assert sorted(counts.reads) == sorted(connector.name for connector in site.connectors)
    assert opened + counts.derivations <= CONNECTORS + 1


@pytest.mark.slow
def test_unchanged_sync_derives_one_key(
    site: LoadedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a `sync` pushed to every connector and `keyring reseal` put every entry under the
    file's reference salt (a refresh that changed nothing no longer writes its entry back), an
    unchanged `sync`, in a fresh backend as a new process has, reads each entry at most once and
    derives one key: the reference's, which serves them all.
    """
    with open_runtime(site, auth=auth_deps(site, ENVIRON)) as runtime:
        first = runtime.cycle()
    assert {result.outcome for result in first.results} == {"pushed"}
    keyring_file = site.config.keyring.cryptfile_path
    assert keyring_file is not None
    lock_path = keyring_lock_path(site.config.daemon.state_dir)
    passphrase = ENVIRON["SFSYNC_KEYRING_PASSPHRASE"]
    assert reseal_cryptfile(keyring_file, passphrase, lock_path) == CONNECTORS
    counts = Counts(monkeypatch)
    with open_runtime(site, auth=auth_deps(site, ENVIRON)) as runtime:
        again = runtime.cycle()
    assert {result.outcome for result in again.results} == {"unchanged"}
    assert len(counts.reads) <= CONNECTORS + 1, "the entries and the reference, on unlocking"
    assert counts.derivations == 1
