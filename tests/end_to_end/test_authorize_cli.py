"""`sfsync authorize`, `status` and `revoke` end to end: the real CLI, the emulator over
HTTPS, and a real keyring (GNOME Keyring's Secret Service on a private D-Bus bus).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.site import Site

pytestmark = pytest.mark.slow


def web_authorize(
    site: Site, emu: Emulator, env: str = "sandbox"
) -> subprocess.CompletedProcess[str]:
    """Run `authorize --no-browser` with the test as the browser: follow the printed URL, then
    the redirect to the loopback callback. Return the finished CLI run.
    """
    process = site.start("authorize", "--env", env, "--no-browser", "--timeout", "30s")
    assert process.stdout is not None
    assert process.stderr is not None
    url = ""
    seen: list[str] = []
    while not url:
        line = process.stdout.readline()
        assert line, f"the CLI ended before printing the URL: {seen} {process.stderr.read()}"
        seen.append(line)
        if "/services/oauth2/authorize?" in line:
            url = line.strip()
    answer = requests.get(url, verify=str(emu.ca_path), allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    page = requests.get(answer.headers["Location"], timeout=10)
    assert page.status_code == 200
    assert "authorized" in page.text
    out, err = site.finish(process)
    return subprocess.CompletedProcess(process.args, process.returncode, "".join(seen) + out, err)


def status(site: Site) -> tuple[int, dict[str, Any]]:
    """Run `status --json`; return its exit code and rows by connector."""
    done = site.run("status", "--json")
    rows = {row["connector"]: row for row in json.loads(done.stdout)["connectors"]}
    return done.returncode, rows


def test_web_flow_then_status(site: Site, emu: Emulator, sandbox: OrgHandle) -> None:
    """The web flow stores the connector in the Secret Service; status shows user and org."""
    done = web_authorize(site, emu)
    assert done.returncode == 0, done.stderr
    assert f"lightning/sandbox: authorized as {sandbox.default_user.username}" in done.stdout
    assert "SecretService" in done.stdout
    code, rows = status(site)
    assert code == 3  # production is not authorized yet
    row = rows["lightning/sandbox"]
    assert row["authorized"] is True
    assert row["needs_authorization"] is False
    assert row["org_id"] == sandbox.org_id
    assert row["user"] == sandbox.default_user.username
    for key in ("live_sha256", "live_since", "last_push_at", "last_result", "gated"):
        assert row[key] is None
    assert row["paused"] is False  # always a boolean (SPEC section 5)
    assert rows["lightning/production"]["needs_authorization"] is True


def test_device_flow(site: Site, production: OrgHandle) -> None:
    """The device flow prints a user code; once the org approves it, the CLI is authorized."""
    process = site.start("authorize", "--env", "production", "--flow", "device", "--timeout", "30")
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "enter the code" in line, line
    user_code = line.split("enter the code ")[1].split()[0]
    production.approve_device(user_code)
    out, err = site.finish(process)
    assert process.returncode == 0, err
    assert "lightning/production: authorized" in out
    _code, rows = status(site)
    assert rows["lightning/production"]["org_id"] == production.org_id


def test_jwt_flow(site: Site, sandbox: OrgHandle, jwt_key: tuple[Path, bytes]) -> None:
    """The JWT flow needs no browser; status mints a fresh assertion to ask who it is."""
    username = sandbox.default_user.username
    done = site.run(
        "authorize",
        "--env",
        "sandbox",
        "--flow",
        "jwt",
        "--username",
        username,
        "--key",
        str(jwt_key[0]),
    )
    assert done.returncode == 0, done.stderr
    sandbox.faults.expire_sessions()
    _, rows = status(site)
    assert rows["lightning/sandbox"]["user"] == username
    assert rows["lightning/sandbox"]["flow"] == "jwt"


def test_revoked_refresh_token_is_exit_3_for_that_connector_only(
    site: Site, emu: Emulator, sandbox: OrgHandle, production: OrgHandle
) -> None:
    """A refresh token revoked at the org marks that connector; the other stays authorized."""
    assert web_authorize(site, emu, "sandbox").returncode == 0
    assert web_authorize(site, emu, "production").returncode == 0
    assert status(site)[0] == 0
    sandbox.faults.revoke_refresh_tokens()
    code, rows = status(site)
    assert code == 3
    assert rows["lightning/sandbox"]["needs_authorization"] is True
    assert "invalid_grant" in rows["lightning/sandbox"]["auth_error"]
    assert rows["lightning/production"]["authorized"] is True
    assert rows["lightning/production"]["org_id"] == production.org_id


def test_refresh_after_sessions_expire_and_rotation(
    site: Site, emu: Emulator, sandbox: OrgHandle
) -> None:
    """After the org expires every session, status refreshes (rotating the refresh token)
    and still answers; repeated runs keep working on the rotated token.
    """
    assert web_authorize(site, emu).returncode == 0
    for _ in range(2):
        sandbox.faults.expire_sessions()
        _, rows = status(site)
        assert rows["lightning/sandbox"]["org_id"] == sandbox.org_id


def test_revoke(site: Site, emu: Emulator, sandbox: OrgHandle) -> None:
    """revoke revokes at the org and deletes the entry; status then says not authorized."""
    assert web_authorize(site, emu).returncode == 0
    done = site.run("revoke", "--env", "sandbox")
    assert done.returncode == 0, done.stderr
    assert "revoked at Salesforce and keyring entry deleted" in done.stdout
    assert any("/services/oauth2/revoke" in entry.path for entry in sandbox.request_log)
    _, rows = status(site)
    assert rows["lightning/sandbox"]["authorized"] is False
    again = site.run("revoke", "--env", "sandbox")
    assert "nothing to revoke" in again.stdout


def test_revoke_with_org_unreachable_still_deletes(
    site: Site, emu: Emulator, sandbox: OrgHandle
) -> None:
    """When the org cannot be reached, revoke warns and still deletes the keyring entry."""
    assert web_authorize(site, emu).returncode == 0
    emu.stop()
    done = site.run("revoke", "--env", "sandbox")
    assert done.returncode == 0, done.stderr
    assert "warning: could not revoke" in done.stderr
    assert "keyring entry deleted" in done.stdout


def test_wrong_environment_lists_the_valid_ones(site: Site) -> None:
    """A wrong --env is a usage error (exit 2) naming the configured environments."""
    done = site.run("authorize", "--env", "uat", "--no-browser")
    assert done.returncode == 2
    assert "sandbox, production" in done.stderr


def test_failed_jwt_flow_names_the_web_flow(site: Site, sandbox: OrgHandle, tmp_path: Path) -> None:
    """A JWT grant Salesforce refuses (a key whose certificate is not on the app) ends in one
    line whose advice names the web flow as a command that can be pasted as it is.
    """
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = tmp_path / "other.pem"
    key.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key.chmod(0o600)  # a key others may read is refused before any grant
    done = site.run(
        "authorize", "--env", "sandbox", "--flow", "jwt",
        "--username", sandbox.default_user.username, "--key", str(key),
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "`sfsync authorize --env sandbox --system lightning --flow web`" in done.stderr
