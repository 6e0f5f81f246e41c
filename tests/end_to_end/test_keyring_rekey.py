"""`sfsync keyring rekey` and `reseal`: a new cryptfile passphrase, or every entry under one
key, without authorizing any org again.
"""

from __future__ import annotations

import base64
import configparser
import json
import subprocess
from pathlib import Path

import pytest
from keyrings.cryptfile.cryptfile import CryptFileKeyring

from sfsync.tokens.record import SERVICE
from sfsync_emulator import Emulator
from tests.fixtures.site import SFSYNC
from tests.fixtures.sync_support import PASSPHRASE, SyncSite, sync_site

pytestmark = pytest.mark.slow

NEW = "a-new-passphrase-for-the-box"


def run(
    site: SyncSite, passphrase: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**site.site.env, "SFSYNC_KEYRING_PASSPHRASE": passphrase}
    return subprocess.run(
        [str(SFSYNC), "--config", str(site.site.config), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_rekey_keeps_every_authorization_under_the_new_passphrase(
    tmp_path: Path, emu: Emulator
) -> None:
    """After rekey the new passphrase opens every entry and the old one opens nothing; a wrong
    old passphrase changes nothing.
    """
    orgs = {"sandbox": emu.add_org(name="sandbox"), "production": emu.add_org(name="production")}
    site = sync_site(tmp_path, emu, orgs, {})
    site.authorize("sandbox")
    site.authorize("production")
    before = site.keyring_file.read_bytes()
    wrong = run(site, "not-the-passphrase", "keyring", "rekey", "--new-passphrase-stdin", stdin=NEW)
    assert wrong.returncode == 3, wrong.stdout + wrong.stderr
    assert site.keyring_file.read_bytes() == before
    done = run(site, PASSPHRASE, "keyring", "rekey", "--new-passphrase-stdin", stdin=NEW + "\n")
    assert done.returncode == 0, done.stderr
    assert "2 entries re-encrypted" in done.stdout
    assert NEW not in done.stdout + done.stderr
    status = run(site, NEW, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    old = run(site, PASSPHRASE, "status", "--json")
    assert old.returncode == 3
    assert "does not open it" in old.stdout + old.stderr
    assert not list(site.keyring_file.parent.glob("*.rekey"))


def salts(path: Path) -> set[str]:
    """Return the distinct salts of the keyring file's values, the reference's included."""
    config = configparser.RawConfigParser()
    config.read(path)
    return {
        json.loads(base64.b64decode(config.get(section, option)))["salt"]
        for section in config.sections()
        for option in config.options(section)
        if option not in {"scheme", "version"}
    }


def test_reseal_puts_every_entry_under_one_key(tmp_path: Path, emu: Emulator) -> None:
    """Entries written with a salt each (as keyrings.cryptfile writes them) are re-encrypted
    under one salt by `keyring reseal`, keeping the passphrase and every authorization.
    """
    orgs = {"sandbox": emu.add_org(name="sandbox"), "production": emu.add_org(name="production")}
    site = sync_site(tmp_path, emu, orgs, {})
    site.authorize("sandbox")
    site.authorize("production")
    stock = CryptFileKeyring()
    stock.file_path = str(site.keyring_file)
    stock.keyring_key = PASSPHRASE
    names = [f"lightning/{environment}" for environment in orgs]
    values = {name: stock.get_password(SERVICE, name) for name in names}
    for name, value in values.items():
        stock.set_password(SERVICE, name, value)  # a new salt each
    assert len(salts(site.keyring_file)) == 3, "the reference's and one per entry"
    done = run(site, PASSPHRASE, "keyring", "reseal")
    assert done.returncode == 0, done.stderr
    assert "2 entries re-encrypted under one key" in done.stdout
    assert len(salts(site.keyring_file)) == 1
    assert {name: stock.get_password(SERVICE, name) for name in names} == values
    status = run(site, PASSPHRASE, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    assert not list(site.keyring_file.parent.glob("*.rekey"))
