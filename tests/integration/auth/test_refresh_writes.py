"""Which token refreshes write the cryptfile keyring, on the real backend against an emulated
org: a rotation always, a refresh that changed nothing never (its time goes to the state
store); the keep-alive, after a restart, is due from the store's proof.
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
from sfsync.salesforce.keepalive import keep_alive
from sfsync.state.store import StateStore
from sfsync.tokens import StoredAuthorization
from sfsync_emulator import OrgHandle
from tests.fixtures.in_process import drop_ca_bundle_env, emulator_for
from tests.fixtures.site import authorization, config_head

CLIENT = "sfsync-refresh-writes"
ENVIRON = {"SFSYNC_KEYRING_PASSPHRASE": "writes-passphrase"}
KEEPALIVE = DaemonSettings().keepalive


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
    """A refresh keeping the token rewrites nothing, however old the stored time; the grant is
    noted as a proof.
    """
    stored = site.store_authorization(datetime.now(UTC) - KEEPALIVE * 3)
    before = site.keyring_file.read_bytes()
    deps = site.deps()
    started = datetime.now(UTC)
    assert deps.session(site.connector).access_token()
    assert site.keyring_file.read_bytes() == before
    assert site.stored() == stored
    assert deps.proofs.pending()[site.connector.name] >= started


def test_rotated_refresh_token_is_written(rotating_site: Site) -> None:
    """A rotated refresh token is written at once, however recent the stored time."""
    stored = rotating_site.store_authorization(datetime.now(UTC))
    before = rotating_site.keyring_file.read_bytes()
    rotating_site.deps().session(rotating_site.connector).access_token()
    assert rotating_site.keyring_file.read_bytes() != before
    kept = rotating_site.stored()
    assert kept.refresh_token is not None
    assert kept.refresh_token != stored.refresh_token


def test_keep_alive_is_due_from_the_stores_proof_after_a_restart(site: Site) -> None:
    """A refresh proven in the state store puts a new process's keep-alive off until
    `keepalive` after it, though the keyring still holds an older time; no step writes the
    keyring.
    """
    site.store_authorization(datetime.now(UTC) - KEEPALIVE * 2)
    before = site.keyring_file.read_bytes()
    proven = datetime.now(UTC).replace(microsecond=0)
    deps = site.deps(clock=lambda: proven)
    deps.session(site.connector).access_token()
    state_dir = site.loaded.config.daemon.state_dir
    store = StateStore.open(state_dir)
    try:
        deps.proofs.write_to(store)
    finally:
        store.close()
    store = StateStore.open(state_dir)
    try:
        proven_at = store.connector(site.connector.name).token_proven_at
    finally:
        store.close()
    assert proven_at == proven
    due = proven + KEEPALIVE
    restarted = site.deps(clock=lambda: due).session(site.connector)
    assert not keep_alive(restarted, due - timedelta(minutes=1), KEEPALIVE, proven_at)
    assert keep_alive(restarted, due, KEEPALIVE, proven_at)
    assert site.keyring_file.read_bytes() == before
