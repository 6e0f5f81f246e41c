"""Orgs as Salesforce admins really set them up (issue 13), end to end: the real CLI, the
emulator over HTTPS with each real behaviour switched on, and a real Secret Service.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.secret_service import BACKEND as SECRET_SERVICE
from tests.fixtures.site import CLIENT_ID, SFSYNC, Site, cli_env, write_config
from tests.fixtures.sync_support import RESOURCE, SyncSite, sync_site

pytestmark = pytest.mark.slow

SECRET = "consumer-secret-7f3a"  # the emulated app's, made up here


def browse(emu: Emulator, url: str) -> requests.Response:
    """Be the browser: follow the authorize URL to the redirect, then deliver it."""
    answer = requests.get(url, verify=str(emu.ca_path), allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return requests.get(answer.headers["Location"], timeout=10)


def authorize(
    site: Site, emu: Emulator, *options: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `authorize --no-browser OPTIONS`, be its browser, and return the finished run."""
    process = site.start("authorize", "--no-browser", "--timeout", "30s", *options, stdin=stdin)
    assert process.stdout is not None
    seen: list[str] = []
    while True:
        line = process.stdout.readline()
        if not line:
            break  # it ended before printing a URL (a usage error)
        seen.append(line)
        if "/services/oauth2/authorize?" in line:
            browse(emu, line.strip())
            break
    out, err = site.finish(process)
    return subprocess.CompletedProcess(process.args, process.returncode, "".join(seen) + out, err)


def status(site: Site) -> tuple[int, dict[str, Any]]:
    """Run `status --json`; return its exit code and rows by connector."""
    done = site.run("status", "--json")
    return done.returncode, {row["connector"]: row for row in json.loads(done.stdout)["connectors"]}


def use_app(site: Site, environment: str, client_id: str) -> None:
    """Give one environment of the site's config its own consumer key."""
    header = f"[systems.lightning.environments.{environment}]"
    text = site.config.read_text()
    site.config.write_text(text.replace(header, f'{header}\nclient_id = "{client_id}"'))


def secret_app(site: Site, org: OrgHandle, callback_port: int) -> None:
    """Register a Local app on `org` with both "Require secret" switches on, and use it for the
    sandbox connector.
    """
    org.register_client(
        "sandbox-app",
        [f"http://localhost:{callback_port}/OAuthCallback"],
        secret=SECRET,
        require_secret_web=True,
        require_secret_refresh=True,
    )
    use_app(site, "sandbox", "sandbox-app")


def two_system_site(
    root: Path, emu: Emulator, org: OrgHandle, port: int, env: dict[str, str]
) -> Site:
    """A site with systems `lightning` and `portal`, both in `org` as environment sandbox."""
    keyring_toml = f'[keyring]\nbackend = "{SECRET_SERVICE}"'
    config = write_config(root, {"sandbox": org.instance_url}, emu.ca_path, port, keyring_toml)
    portal = [
        "[systems.portal]",
        'resource = "WalkMePortal"',
        f'source = {{ type = "dir", path = "{root / "drop"}" }}',
        "[systems.portal.environments.sandbox]",
        f'login_url = "{org.instance_url}"',
    ]
    config.write_text(config.read_text() + "\n".join(portal) + "\n")
    return Site(root, config, root / "state", cli_env(env), [])


# -- the authorize URL and what authorize proves ---------------------------------------------


def test_authorize_url_asks_for_a_login_and_prints_who_and_where(
    site: Site, emu: Emulator, sandbox: OrgHandle
) -> None:
    """prompt=login on the URL; the result names user, org id and instance URL."""
    done = authorize(site, emu, "--env", "sandbox")
    assert done.returncode == 0, done.stderr
    assert "prompt=login" in done.stdout
    user = sandbox.default_user.username
    assert (
        f"lightning/sandbox: authorized as {user} in org {sandbox.org_id}, "
        f"{sandbox.instance_url}" in done.stdout
    )
    row = status(site)[1]["lightning/sandbox"]
    assert row["content_url"] == f"{sandbox.instance_url}/resource/WalkMeLightning/"
    assert row["content_url_note"] is None  # the emulator serves resources itself


def test_identity_url_needing_a_scope_does_not_matter(
    site: Site, emu: Emulator, sandbox: OrgHandle
) -> None:
    """An org whose identity URL answers 403 without the `id` scope: authorize and status still
    name the user and org (taken from the id URL's path and the REST API).
    """
    sandbox.identity_needs_scope = True
    done = authorize(site, emu, "--env", "sandbox")
    assert done.returncode == 0, done.stderr
    sandbox.faults.expire_sessions()
    _code, rows = status(site)
    row = rows["lightning/sandbox"]
    assert (row["authorized"], row["org_id"]) == (True, sandbox.org_id)
    assert row["user"] == sandbox.default_user.username
    assert row["auth_error"] is None


def test_unsupported_api_version_is_refused_and_the_token_revoked(
    site: Site, emu: Emulator, sandbox: OrgHandle
) -> None:
    """An org that does not serve the configured version: exit 2 naming it; no token kept."""
    sandbox.api_versions = ["58.0", "59.0"]
    done = authorize(site, emu, "--env", "sandbox")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "does not serve API version" in done.stderr
    assert "newest it serves: 59.0" in done.stderr
    assert sandbox.approvals(client_id=CLIENT_ID) == 0
    assert status(site)[1]["lightning/sandbox"]["authorized"] is False


# -- secrets, per-org apps -------------------------------------------------------------------


def test_app_requiring_its_secret(
    site: Site, emu: Emulator, sandbox: OrgHandle, callback_port: int
) -> None:
    """An app with both secret switches on: without the secret the refusal names the switches
    and the option; with --client-secret-stdin the code exchange and every refresh work, and
    the secret appears in no output.
    """
    secret_app(site, sandbox, callback_port)
    refused = authorize(site, emu, "--env", "sandbox")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "Require secret for Web Server Flow" in refused.stderr
    assert "--client-secret-stdin" in refused.stderr
    assert "client_id" not in refused.stderr.split("refused by Salesforce")[0]
    done = authorize(site, emu, "--env", "sandbox", "--client-secret-stdin", stdin=SECRET + "\n")
    assert done.returncode == 0, done.stderr
    for _ in range(2):  # each status is a new process: it starts with a refresh
        sandbox.faults.expire_sessions()
        _code, rows = status(site)
        assert rows["lightning/sandbox"]["authorized"] is True, rows["lightning/sandbox"]
    assert not any(SECRET in text for text in site.outputs)


def test_each_org_has_its_own_app(
    site: Site, emu: Emulator, sandbox: OrgHandle, production: OrgHandle, callback_port: int
) -> None:
    """Per-environment client_id: each org knows only its own Local app; another org's key is
    refused with advice about the per-org app, and config check shows each connector's app.
    """
    callback = [f"http://localhost:{callback_port}/OAuthCallback"]
    sandbox.register_client("app-of-sandbox", callback)
    production.register_client("app-of-production", callback)
    config = site.config.read_text()
    use_app(site, "sandbox", "app-of-production")
    use_app(site, "production", "app-of-production")
    # The org refuses the other org's key on its authorize page, in the browser: the callback
    # never comes, and the CLI's timeout says what that page meant.
    process = site.start("authorize", "--no-browser", "--env", "sandbox", "--timeout", "3s")
    assert process.stdout is not None
    url = next(line for line in process.stdout if "/services/oauth2/authorize?" in line).strip()
    page = requests.get(url, verify=str(emu.ca_path), allow_redirects=False, timeout=10)
    assert "error=invalid_client_id" in page.headers["Location"]
    _out, err = site.finish(process)
    assert process.returncode == 3
    assert "client identifier invalid" in err
    assert "its own External Client App" in err
    site.config.write_text(config)
    use_app(site, "sandbox", "app-of-sandbox")
    use_app(site, "production", "app-of-production")
    checked = site.run("config", "check")
    assert "app-of-sandbox" in checked.stdout
    assert "app-of-p...tion" in checked.stdout  # 17 characters: shortened to its ends
    assert authorize(site, emu, "--env", "sandbox").returncode == 0
    assert authorize(site, emu, "--env", "production").returncode == 0
    assert sandbox.approvals(client_id="app-of-sandbox") == 1
    assert production.approvals(client_id="app-of-production") == 1


# -- one approval per org, --force, revocation -----------------------------------------------


def test_all_systems_share_one_approval_and_one_rotating_family(
    tmp_path: Path,
    emu: Emulator,
    sandbox: OrgHandle,
    callback_port: int,
    secret_service_env: dict[str, str],
) -> None:
    """--all-systems: one round trip, one approval, both entries; a rotation through one
    connector reaches the other, so both keep working on the rotated family.
    """
    site = two_system_site(tmp_path / "two", emu, sandbox, callback_port, secret_service_env)
    done = authorize(site, emu, "--env", "sandbox", "--all-systems")
    assert done.returncode == 0, done.stderr
    assert "lightning/sandbox, portal/sandbox: authorized as" in done.stdout
    assert sandbox.approvals(client_id=CLIENT_ID) == 1
    for _ in range(3):  # sandbox rotates refresh tokens on every refresh
        sandbox.faults.expire_sessions()
        code, rows = status(site)
        assert code == 0, rows
        assert all(row["authorized"] for row in rows.values())
    assert sandbox.approvals(client_id=CLIENT_ID) == 1


def test_a_fifth_approval_warns(
    tmp_path: Path,
    emu: Emulator,
    sandbox: OrgHandle,
    callback_port: int,
    secret_service_env: dict[str, str],
) -> None:
    """Five environments of one org authorized one by one: the fifth approval warns, naming
    the limit and --all-systems.
    """
    site = two_system_site(tmp_path / "five", emu, sandbox, callback_port, secret_service_env)
    extra = ""
    for name in ("uat", "qa", "dev"):
        extra += f'[systems.lightning.environments.{name}]\nlogin_url = "{sandbox.instance_url}"\n'
    site.config.write_text(site.config.read_text() + extra)
    runs = [
        authorize(site, emu, "--env", env, "--system", system)
        for env, system in (
            ("sandbox", "lightning"),
            ("uat", "lightning"),
            ("qa", "lightning"),
            ("dev", "lightning"),
            ("sandbox", "portal"),
        )
    ]
    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs]
    assert all("approvals" not in run.stderr for run in runs[:4])
    assert "holds 5 approvals" in runs[4].stderr
    assert "--all-systems" in runs[4].stderr
    assert sandbox.approvals(client_id=CLIENT_ID) == 5


def test_another_user_needs_force_and_the_replaced_token_is_revoked(
    site: Site, emu: Emulator, sandbox: OrgHandle
) -> None:
    """Re-authorizing as another user: exit 2 naming --force, nothing changed; with --force the
    old refresh token is revoked, so approvals do not pile up.
    """
    assert authorize(site, emu, "--env", "sandbox").returncode == 0
    first_user = sandbox.default_user.username
    sandbox.add_user("someone.else@acme.example")
    emu.login_as("someone.else@acme.example")
    refused = authorize(site, emu, "--env", "sandbox")
    assert refused.returncode == 2, refused.stderr
    assert "--force" in refused.stderr
    assert status(site)[1]["lightning/sandbox"]["user"] == first_user
    assert sandbox.approvals("someone.else@acme.example", CLIENT_ID) == 0
    forced = authorize(site, emu, "--env", "sandbox", "--force")
    assert forced.returncode == 0, forced.stderr
    assert status(site)[1]["lightning/sandbox"]["user"] == "someone.else@acme.example"
    assert sandbox.approvals(first_user, CLIENT_ID) == 0
    emu.login_as(None)
    again = authorize(site, emu, "--env", "sandbox", "--force")
    assert again.returncode == 0
    assert sandbox.approvals("someone.else@acme.example", CLIENT_ID) == 0
    assert sandbox.approvals(first_user, CLIENT_ID) == 1


# -- invalid_grant variants ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("switch", "needle"),
    [("ip", "Login IP Ranges"), ("inactive", "reactivate"), ("revoked", "run `sfsync authorize")],
)
def test_invalid_grant_variants_get_their_own_advice(
    site: Site, emu: Emulator, sandbox: OrgHandle, switch: str, needle: str
) -> None:
    """ip restricted, inactive user, expired token: status exits 3 with each one's advice."""
    assert authorize(site, emu, "--env", "sandbox").returncode == 0
    if switch == "ip":
        sandbox.ip_restricted = True
    elif switch == "inactive":
        sandbox.deactivate_user(sandbox.default_user.username)
    else:
        sandbox.faults.revoke_refresh_tokens()
    code, rows = status(site)
    assert code == 3
    error = rows["lightning/sandbox"]["auth_error"]
    assert needle in error, error
    if switch != "revoked":
        assert "run `sfsync authorize --env sandbox --system lightning`" not in error


def test_jwt_user_not_pre_authorized(
    site: Site, emu: Emulator, sandbox: OrgHandle, jwt_key: tuple[Path, bytes]
) -> None:
    """A JWT grant for a user the app does not pre-authorize: advice to pre-authorize, or to
    use the web flow with a command that can be pasted as it is.
    """
    sandbox.register_client(
        "jwt-app", jwt_certificate_pem=jwt_key[1], preauthorized=["nobody@acme.example"]
    )
    use_app(site, "sandbox", "jwt-app")
    done = site.run(
        "authorize", "--env", "sandbox", "--flow", "jwt",
        "--username", sandbox.default_user.username, "--key", str(jwt_key[0]),
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    assert "pre-authorize" in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "`sfsync authorize --env sandbox --system lightning --flow web`" in done.stderr


# -- pushes: production Metadata, refreshed sandboxes, namespaces ---------------------------


def test_metadata_deploy_to_a_production_org(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """A production org refuses NoTestRun; sfsync sends no testLevel, so the deploy goes live."""
    orgs = {"production": emu.add_org(name="production", production=True)}
    site = sync_site(tmp_path, emu, orgs, {"production": 'api = "metadata"'}, secret_service_here)
    site.authorize("production")
    site.publish(1)
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert site.live_sha256("production") is not None


def test_refreshed_sandbox_is_pushed_again(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """After a sandbox refresh (new org id, production's copy of the resource), sfsync pushes
    the sandbox's own content again instead of trusting what it knew.
    """
    orgs = {"sandbox": emu.add_org(name="sandbox"), "production": emu.add_org(name="production")}
    site: SyncSite = sync_site(tmp_path, emu, orgs, {}, secret_service_here)
    site.authorize("sandbox")
    site.authorize("production")
    site.publish(1)
    assert site.run("sync")[0] == 0
    production_body = site.live_sha256("production")
    site.publish(2)
    assert site.run("sync", "--connector", "lightning/sandbox")[0] == 0
    ours = site.live_sha256("sandbox")
    assert ours != production_body
    old_org = orgs["sandbox"].org_id
    orgs["sandbox"].refresh_sandbox(orgs["production"], keep_local_apps=True)
    assert orgs["sandbox"].org_id != old_org
    assert site.live_sha256("sandbox") == production_body
    # An unchanged sync spends no call, so it cannot see the refresh; status (a refresh) can.
    code, _out, _err = site.run("status")
    assert code == 3
    site.authorize("sandbox")
    code, out, err = site.run("sync", "--connector", "lightning/sandbox")
    assert code == 0, out + err
    assert "pushed" in out
    assert site.live_sha256("sandbox") == ours


def test_namespaced_org_updates_its_own_resource(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """In an org with a namespace, sfsync finds the resource it created (carrying the org's
    namespace) and updates it, never a managed package's resource of the same name.
    """
    org = emu.add_org(name="sandbox", namespace="acme")
    managed = org.seed_resource(RESOURCE, b"the vendor's own", namespace="vendor")
    site = sync_site(tmp_path, emu, {"sandbox": org}, {}, secret_service_here)
    site.authorize("sandbox")
    site.publish(1)
    assert site.run("sync")[0] == 0
    state = tmp_path / "state"
    for path in state.glob("state.db*"):
        path.unlink()  # forget the resource Id: the next push must find it by query
    site.publish(2)
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert org.count(api="tooling", method="POST") == 1  # created once, then found and updated
    assert org.count(api="tooling", method="PATCH") == 1
    ours = org.static_resources[RESOURCE]
    assert ours.namespace_prefix == "acme"
    assert ours.id != managed.id
    assert managed.body == b"the vendor's own"


def test_a_404_under_an_unserved_version_is_not_a_deleted_resource(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """Once the org stops serving the configured API version, a push fails naming the version;
    the 404 it got is not taken for a deleted resource, so nothing is created anew.
    """
    org = emu.add_org(name="sandbox")
    site = sync_site(tmp_path, emu, {"sandbox": org}, {}, secret_service_here)
    site.authorize("sandbox")
    site.publish(1)
    assert site.run("sync")[0] == 0
    org.api_versions = ["58.0", "59.0"]
    site.publish(2)
    code, out, err = site.run("sync")
    assert code == 1, out + err
    assert "does not serve API version" in out + err
    assert org.count(api="tooling", method="POST") == 1  # the first push's create only
    assert len(org.static_resources) == 1


def test_a_terminal_is_asked_for_the_secret_without_echo(
    site: Site, emu: Emulator, sandbox: OrgHandle, callback_port: int
) -> None:
    """On a terminal, when the org wants the secret, authorize asks for it (no echo) and tries
    the same code again: one browser round trip, and the secret never appears on the screen.
    """
    secret_app(site, sandbox, callback_port)
    argv = [str(SFSYNC), "--config", str(site.config), "authorize", "--env", "sandbox"]
    argv += ["--no-browser", "--timeout", "30s"]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the CLI on a terminal
        os.execve(argv[0], argv, site.env)  # noqa: S606 - the CLI under test, fixed argv
    screen = ""

    def read_until(text: str) -> None:
        nonlocal screen
        deadline = time.monotonic() + 30
        while text not in screen and time.monotonic() < deadline:
            ready, _, _ = select.select([terminal], [], [], 1)
            if ready:
                try:
                    screen += os.read(terminal, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    break
        assert text in screen, screen

    try:
        read_until("/services/oauth2/authorize?")
        read_until("\n")  # the rest of the URL's line
        url = next(line for line in screen.splitlines() if "/services/oauth2/authorize?" in line)
        browse(emu, url.strip())
        read_until("Consumer secret")
        os.write(terminal, (SECRET + "\n").encode())
        read_until("authorized as")
    finally:
        _, waited = os.waitpid(pid, 0)
        os.close(terminal)
    assert os.waitstatus_to_exitcode(waited) == 0, screen
    assert SECRET not in screen
    assert sandbox.approvals(client_id="sandbox-app") == 1
    sandbox.faults.expire_sessions()
    assert status(site)[1]["lightning/sandbox"]["authorized"] is True
