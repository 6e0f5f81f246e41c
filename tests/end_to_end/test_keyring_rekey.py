"""`sfsync keyring rekey`: a new cryptfile passphrase without authorizing any org again."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

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
