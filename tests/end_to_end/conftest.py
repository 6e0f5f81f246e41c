"""Fixtures for the authorization end-to-end tests: the emulator over HTTPS, a real keyring
(GNOME Keyring's Secret Service, or keyrings.cryptfile in a temp dir) and the real CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sfsync.ports import unused_loopback_port
from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.secret_service import secret_service, secret_service_available
from tests.fixtures.site import CLIENT_ID, Site, cli_env, write_config


@pytest.fixture
def callback_port() -> int:
    """A free loopback port for the web flow's redirect."""
    return unused_loopback_port()


@pytest.fixture
def jwt_key(tmp_path: Path) -> tuple[Path, bytes]:
    """A fresh RSA key (PEM file) and its self-signed certificate (PEM bytes) for the JWT flow."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "sfsync-e2e")])
    import datetime as dt  # noqa: PLC0415

    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "keys" / "jwt.pem"
    path.parent.mkdir()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path, certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def emu(callback_port: int, jwt_key: tuple[Path, bytes]) -> Iterator[Emulator]:
    """A running emulator with sfsync's client registered (web, device and JWT)."""
    # pkce_rejects_tilde: real orgs refuse verifiers holding "~"; sfsync must never send one.
    with Emulator(device_interval=0, pkce_rejects_tilde=True) as emulator:
        emulator.register_client(
            CLIENT_ID,
            [f"http://localhost:{callback_port}/OAuthCallback"],
            jwt_certificate_pem=jwt_key[1],
            device_flow=True,
        )
        yield emulator


@pytest.fixture
def sandbox(emu: Emulator) -> OrgHandle:
    """The sandbox org, rotating refresh tokens as Salesforce can."""
    return emu.add_org(name="sandbox", rotate_refresh_tokens=True)


@pytest.fixture
def production(emu: Emulator) -> OrgHandle:
    """The production org."""
    return emu.add_org(name="production")


@pytest.fixture
def secret_service_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real Secret Service (GNOME Keyring) on a private bus, unlocked."""
    if not secret_service_available():
        pytest.fail("gnome-keyring-daemon / dbus-daemon missing: run `make system-deps`")
    with secret_service(tmp_path / "home", tmp_path / "run") as env:
        yield env


@pytest.fixture
def site(  # noqa: PLR0917 - pytest passes fixtures by name
    tmp_path: Path,
    emu: Emulator,
    sandbox: OrgHandle,
    production: OrgHandle,
    callback_port: int,
    secret_service_env: dict[str, str],
) -> Site:
    """An sfsync install whose two connectors log in at the two emulated orgs, with tokens
    kept in the Secret Service.
    """
    ca_copy = tmp_path / "emulator-ca.pem"
    ca_copy.write_bytes(emu.ca_path.read_bytes())  # outlives emu.stop() in the offline test
    config = write_config(
        tmp_path,
        {"sandbox": sandbox.instance_url, "production": production.instance_url},
        ca_copy,
        callback_port,
        '[keyring]\nbackend = "keyring.backends.SecretService.Keyring"',
    )
    return Site(tmp_path, config, tmp_path / "state", cli_env(secret_service_env), [])


@pytest.fixture
def secret_service_here(
    secret_service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The Secret Service, reachable from this process too (a push test seeds tokens in it)."""
    for name, value in secret_service_env.items():
        monkeypatch.setenv(name, value)
    return secret_service_env
