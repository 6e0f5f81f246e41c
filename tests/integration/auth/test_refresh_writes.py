"""Which token refreshes write the cryptfile keyring, on the real backend against an emulated
org: a rotation always, a refresh that changed nothing only once the stored time lags by the
keep-alive's slack; the keep-alive still fires when due.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from keyrings.cryptfile.cryptfile import CryptFileKeyring

from sfsync.auth_wiring import AuthDeps, auth_deps
from sfsync.clock import utc_now
from sfsync.config import Connector, LoadedConfig, parse_config
from sfsync.config.schema import DaemonSettings
from sfsync.salesforce.keepalive import keep_alive, stamp_slack
from sfsync.tokens import StoredAuthorization
from sfsync_emulator import OrgHandle
from tests.fixtures.in_process import drop_ca_bundle_env, emulator_for
from tests.fixtures.site import authorization, config_head

CLIENT = "sfsync-refresh-writes"
ENVIRON = {"SFSYNC_KEYRING_PASSPHRASE": "writes-passphrase"}
KEEPALIVE = DaemonSettings().keepalive
SLACK = stamp_slack(KEEPALIVE)


@dataclass
class Site:
    """One connector of one emulated org, its authorization in a cryptfile keyring."""

    loaded: LoadedConfig
    org: OrgHandle
    keyring_file: Path

    @property
    def connector(self) -> Connector:
        """Return the site's only connector."""
        return self.loaded.connectors[0]

    def deps(self, clock: Callable[[], datetime] = utc_now) -> AuthDeps:
        """Return the production dependencies, as a new process opens them, on `clock`."""
        deps = auth_deps(self.loaded, ENVIRON)
        deps.clock = clock
        return deps

    def store_authorization(self, refreshed: datetime) -> StoredAuthorization:
        """Store a fresh authorization of the org, last refreshed at `refreshed`; return it."""
        record = replace(authorization(self.org, CLIENT), refreshed_at=refreshed.isoformat())
        self.deps().store.put(self.connector.name, record)
        return record

    def stored(self) -> StoredAuthorization:
        """Return the connector's authorization as the keyring holds it now."""
        record = self.deps().store.get(self.connector.name)
        assert record is not None, "the authorization is gone from the keyring"
        return record


def make_site(root: Path, org: OrgHandle, ca_path: Path) -> Site:
    """Write a one-connector config on `org` with a cryptfile keyring; return the site."""
    keyring_file = root / "keyring" / "sfsync.cfg"
    lines = [
        *config_head(root, CLIENT, ca_path),
        "[keyring]",
        'backend = "cryptfile"',
        f'cryptfile_path = "{keyring_file}"',
        "[systems.lightning]",
        'resource = "WalkMeLightning"',
        f'source = {{ type = "dir", path = "{root / "drop"}", settle = "0s" }}',
        "[systems.lightning.environments.sandbox]",
        f'login_url = "{org.instance_url}"',
    ]
    config = root / "sfsync.toml"
    config.write_text("\n".join(lines) + "\n")
    return Site(parse_config(config.read_text(), config), org, keyring_file)


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the cryptfile's key derivation cheap, and the emulator's CA the one trusted."""
    drop_ca_bundle_env(monkeypatch)
    monkeypatch.setattr(CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(CryptFileKeyring, "memory_cost", 8)
    monkeypatch.setattr(CryptFileKeyring, "parallelism", 1)


@pytest.fixture
def site(tmp_path: Path, cheap_argon2: None) -> Iterator[Site]:
    """A connector on an org that keeps its refresh tokens."""
    del cheap_argon2
    with emulator_for(CLIENT) as emu:
        yield make_site(tmp_path, emu.add_org(name="sandbox"), emu.ca_path)


@pytest.fixture
def rotating_site(tmp_path: Path, cheap_argon2: None) -> Iterator[Site]:
    """A connector on an org that rotates its refresh token at every refresh."""
    del cheap_argon2
    with emulator_for(CLIENT) as emu:
        org = emu.add_org(name="sandbox", rotate_refresh_tokens=True)
        yield make_site(tmp_path, org, emu.ca_path)


def test_refresh_that_changed_nothing_leaves_the_file_unchanged(site: Site) -> None:
    """A refresh keeping the token, its stored time within the slack, rewrites nothing."""
    stored = site.store_authorization(datetime.now(UTC) - SLACK + timedelta(minutes=5))
    before = site.keyring_file.read_bytes()
    session = site.deps().session(site.connector)
    assert session.access_token()
    assert site.keyring_file.read_bytes() == before
    assert site.stored() == stored


def test_rotated_refresh_token_is_written(rotating_site: Site) -> None:
    """A rotated refresh token is written at once, however recent the stored time."""
    stored = rotating_site.store_authorization(datetime.now(UTC))
    before = rotating_site.keyring_file.read_bytes()
    rotating_site.deps().session(rotating_site.connector).access_token()
    assert rotating_site.keyring_file.read_bytes() != before
    kept = rotating_site.stored()
    assert kept.refresh_token is not None
    assert kept.refresh_token != stored.refresh_token


def test_refresh_past_the_slack_is_written(site: Site) -> None:
    """A refresh whose stored time lags by more than the slack writes the new time."""
    lagging = datetime.now(UTC) - SLACK - timedelta(minutes=1)
    stored = site.store_authorization(lagging)
    before = site.keyring_file.read_bytes()
    started = datetime.now(UTC)
    site.deps().session(site.connector).access_token()
    assert site.keyring_file.read_bytes() != before
    kept = site.stored()
    assert kept.refresh_token == stored.refresh_token
    assert kept.refreshed_at is not None
    assert datetime.fromisoformat(kept.refreshed_at) >= started


def test_keep_alive_fires_when_due_after_unwritten_refreshes(site: Site) -> None:
    """An unwritten refresh puts the keep-alive off in its process; a new process, reading the
    stored time, refreshes at most the slack early, and that refresh is written.
    """
    last_written = datetime.now(UTC) - SLACK + timedelta(minutes=5)
    site.store_authorization(last_written)
    session = site.deps().session(site.connector)
    session.access_token()
    refreshed = datetime.now(UTC)
    assert not keep_alive(session, refreshed + KEEPALIVE - SLACK, KEEPALIVE)
    due = last_written + KEEPALIVE
    assert refreshed + KEEPALIVE - due <= SLACK
    restarted = site.deps(clock=lambda: due).session(site.connector)
    assert not keep_alive(restarted, due - timedelta(minutes=1), KEEPALIVE)
    before = site.keyring_file.read_bytes()
    assert keep_alive(restarted, due, KEEPALIVE)
    assert site.keyring_file.read_bytes() != before
    assert site.stored().refreshed_at == due.isoformat()
