"""No secret leaks: after authorize, refresh and revoke, no token the org issued appears in
any output, the config, the state dir or the temp dir; and the cryptfile keyring works end to
end with nothing readable on disk.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from sfsync_emulator import Emulator, OrgHandle
from tests.end_to_end.test_authorize_cli import status, web_authorize
from tests.fixtures.site import Site, cli_env, write_config

pytestmark = pytest.mark.slow


def files_under(root: Path) -> list[Path]:
    """Return every regular file below `root`."""
    return [path for path in root.rglob("*") if path.is_file()]


def leaks(tokens: list[str], texts: dict[str, str]) -> list[str]:
    """Return "where: token prefix" for every token found in any of the texts."""
    return [
        f"{where}: {token[:12]}..."
        for token in tokens
        for where, text in texts.items()
        if token in text
    ]


def test_no_token_anywhere_after_authorize_refresh_revoke(
    site: Site, emu: Emulator, sandbox: OrgHandle, tmp_path: Path
) -> None:
    """Authorize, refresh (after expiry, with rotation), revoke: the issued tokens are in no
    log line, no output, not the config, not the state dir, not the temp dirs.
    """
    temp_before = set(Path(tempfile.gettempdir()).iterdir())
    assert web_authorize(site, emu).returncode == 0
    sandbox.faults.expire_sessions()
    assert status(site)[1]["lightning/sandbox"]["org_id"] == sandbox.org_id
    assert site.run("revoke", "--env", "sandbox").returncode == 0
    tokens = sandbox.issued_tokens
    assert len(tokens) >= 4  # access + refresh, then access + rotated refresh
    texts = {f"output {index}": text for index, text in enumerate(site.outputs)}
    texts["config"] = site.config.read_text()
    for path in files_under(site.state_dir) + files_under(tmp_path / "drop"):
        texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    new_temp = set(Path(tempfile.gettempdir()).iterdir()) - temp_before
    for entry in new_temp:
        for path in [entry] if entry.is_file() else files_under(entry):
            if os.access(path, os.R_OK) and "sfsync-emulator" not in str(path):
                texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    assert leaks(tokens, texts) == []
    assert site.state_dir.exists()  # the refresh lock lives there, holding nothing secret


@pytest.fixture
def cryptfile_site(
    tmp_path: Path, emu: Emulator, sandbox: OrgHandle, production: OrgHandle, callback_port: int
) -> Site:
    """An install keeping tokens in keyrings.cryptfile in a temp dir, passphrase from the env,
    and no Secret Service reachable.
    """
    ca_copy = tmp_path / "emulator-ca.pem"
    ca_copy.write_bytes(emu.ca_path.read_bytes())
    keyring_file = tmp_path / "keyring" / "sfsync.cfg"
    config = write_config(
        tmp_path,
        {"sandbox": sandbox.instance_url, "production": production.instance_url},
        ca_copy,
        callback_port,
        f'[keyring]\ncryptfile_path = "{keyring_file}"',
    )
    env = cli_env({"HOME": str(tmp_path / "home"), "SFSYNC_KEYRING_PASSPHRASE": "e2e-pass"})
    return Site(tmp_path, config, tmp_path / "state", env, [])


def test_cryptfile_keyring_end_to_end(
    cryptfile_site: Site, emu: Emulator, sandbox: OrgHandle, tmp_path: Path
) -> None:
    """With a passphrase and no Secret Service, tokens go to the encrypted file; authorize,
    status and revoke work, and the file never holds a token in the clear.
    """
    site = cryptfile_site
    done = web_authorize(site, emu)
    assert done.returncode == 0, done.stderr
    assert "CryptFileKeyring" in done.stdout
    keyring_file = tmp_path / "keyring" / "sfsync.cfg"
    assert oct(keyring_file.stat().st_mode & 0o777) == "0o600"
    assert status(site)[1]["lightning/sandbox"]["org_id"] == sandbox.org_id
    assert leaks(sandbox.issued_tokens, {"keyring file": keyring_file.read_text()}) == []
    assert site.run("revoke", "--env", "sandbox").returncode == 0
    site.env["SFSYNC_KEYRING_PASSPHRASE"] = "wrong"
    wrong = site.run("status")
    assert wrong.returncode == 3
    assert "passphrase does not open it" in wrong.stderr


def test_no_usable_keyring_is_exit_3_with_advice(cryptfile_site: Site) -> None:
    """Without a Secret Service and without a passphrase, authorize exits 3 naming the backends
    tried and how to configure one; nothing is written in plain text.
    """
    site = cryptfile_site
    site.env.pop("SFSYNC_KEYRING_PASSPHRASE")
    site.config.write_text(site.config.read_text().replace("cryptfile_path", "# cryptfile_path"))
    done = site.run("authorize", "--env", "sandbox", "--no-browser", "--timeout", "1s")
    assert done.returncode == 3
    assert "no usable keyring backend" in done.stderr
    assert "SecretService" in done.stderr
    assert "SFSYNC_KEYRING_PASSPHRASE" in done.stderr
    assert not (site.root / "home" / ".local").exists()
