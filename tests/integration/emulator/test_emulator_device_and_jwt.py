"""Salesforce's non-standard device flow and the JWT bearer grant, driven with plain requests."""

from __future__ import annotations

import datetime as dt
import time

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sfsync_emulator import Emulator
from tests.integration.emulator.emulator_helpers import API, CLIENT_ID

JWT_CLIENT = "sfsync-jwt"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _token(host: str, verify: str, files: bool = False, **form: str) -> requests.Response:
    """POST to the token endpoint, urlencoded or (as sfdx-core does) multipart."""
    url = f"{host}/services/oauth2/token"
    if files:
        parts = {key: (None, value) for key, value in form.items()}
        return requests.post(url, files=parts, verify=verify, timeout=10)
    return requests.post(url, data=form, verify=verify, timeout=10)


def test_device_flow_start_poll_approve(emu, org, verify):
    """Device start answers four keys; polls answer 400 authorization_pending until approval."""
    start = _token(
        emu.login_url, verify, files=True, response_type="device_code", client_id=CLIENT_ID
    )
    assert start.status_code == 200
    body = start.json()
    assert set(body) == {"device_code", "user_code", "interval", "verification_uri"}
    assert body["verification_uri"] == f"{emu.login_url}/setup/connect"
    poll = {"grant_type": "device", "code": body["device_code"], "client_id": CLIENT_ID}
    pending = _token(emu.login_url, verify, **poll)
    assert pending.status_code == 400
    assert pending.json()["error"] == "authorization_pending"
    org.approve_device(body["user_code"])
    granted = _token(emu.login_url, verify, **poll)
    assert granted.status_code == 200
    tokens = granted.json()
    assert {"access_token", "refresh_token", "instance_url", "issued_at"} <= set(tokens)
    assert "expires_in" not in tokens
    assert tokens["instance_url"] == org.instance_url


def test_device_flow_slow_down_and_deny(verify):
    """Polling faster than `interval` answers slow_down; a denied request answers access_denied."""
    with Emulator(device_interval=30) as emu:
        emu.register_client(CLIENT_ID, [])
        org = emu.add_org(name="slow")
        start = _token(
            org.instance_url, str(emu.ca_path), response_type="device_code", client_id=CLIENT_ID
        )
        body = start.json()
        assert body["interval"] == 30
        poll = {"grant_type": "device", "code": body["device_code"], "client_id": CLIENT_ID}
        first = _token(org.instance_url, str(emu.ca_path), **poll)
        assert first.json()["error"] == "authorization_pending"
        second = _token(org.instance_url, str(emu.ca_path), **poll)
        assert second.status_code == 400
        assert second.json()["error"] == "slow_down"
        org.deny_device(body["user_code"])
        emu.backend.tokens.devices[body["device_code"]].last_poll = None
        denied = _token(org.instance_url, str(emu.ca_path), **poll)
        assert denied.json()["error"] == "access_denied"


def test_device_flow_needs_it_enabled_on_the_app(emu, org, verify):
    """A client without the device flow enabled cannot start one."""
    emu.register_client("no-device", [], device_flow=False)
    answer = _token(emu.login_url, verify, response_type="device_code", client_id="no-device")
    assert answer.status_code == 400
    assert set(answer.json()) == {"error", "error_description"}


def test_device_approval_via_control_and_page(emu, org, verify):
    """A device code can be approved over the control endpoint or the verification page."""
    codes = [
        _token(org.instance_url, verify, response_type="device_code", client_id=CLIENT_ID).json()
        for _ in range(2)
    ]
    control = requests.post(
        f"{org.instance_url}/_emulator/device",
        json={"user_code": codes[0]["user_code"]},
        verify=verify,
        timeout=10,
    )
    assert control.json() == {"ok": True}
    page = requests.post(
        codes[1]["verification_uri"],
        data={"user_code": codes[1]["user_code"]},
        verify=verify,
        timeout=10,
    )
    assert "Approved" in page.text
    for code in codes:
        poll = {"grant_type": "device", "code": code["device_code"], "client_id": CLIENT_ID}
        assert _token(org.instance_url, verify, **poll).status_code == 200


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """An RSA key for signing JWT assertions."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key: rsa.RSAPrivateKey) -> str:
    """Return a self-signed certificate PEM for `key`, as an admin uploads to the app."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sfsync-jwt")])
    now = dt.datetime.now(tz=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def jwt_app(emu, org, rsa_key) -> str:
    """Register a client with the test key's certificate; return its client id."""
    emu.register_client(JWT_CLIENT, [], jwt_certificate_pem=_certificate(rsa_key))
    return JWT_CLIENT


def _assertion(key, sub: str, aud: str, exp_in: float = 180, iss: str = JWT_CLIENT) -> str:
    """Sign a JWT bearer assertion."""
    claims = {"iss": iss, "sub": sub, "aud": aud, "exp": int(time.time() + exp_in)}
    return jwt.encode(claims, key, algorithm="RS256")


@pytest.mark.parametrize(
    "audience",
    ["login_url", "instance_url", "https://login.salesforce.com", "https://test.salesforce.com"],
)
def test_jwt_grant_issues_access_token_without_refresh(  # noqa: PLR0917
    emu, org, verify, jwt_app, rsa_key, audience
):
    """A valid assertion for any accepted audience answers an access token and no refresh token."""
    aud = {"login_url": emu.login_url, "instance_url": org.instance_url}.get(audience, audience)
    assertion = _assertion(rsa_key, org.default_user.username, aud)
    answer = _token(emu.login_url, verify, grant_type=JWT_GRANT, assertion=assertion)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "refresh_token" not in body
    assert {"access_token", "instance_url", "id", "token_type", "issued_at", "scope"} <= set(body)
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (
        requests.get(
            f"{org.instance_url}{API}/limits", headers=headers, verify=verify, timeout=10
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("wrong_key", "invalid_grant"),
        ("expired", "invalid_grant"),
        ("far_future", "invalid_grant"),
        ("bad_audience", "invalid_grant"),
        ("unknown_user", "invalid_grant"),
        ("unknown_client", "invalid_client_id"),
    ],
)
def test_jwt_grant_refusals(emu, org, verify, jwt_app, rsa_key, case, error):  # noqa: PLR0917
    """Bad signature, expiry, audience, user or client are refused with Salesforce's errors."""
    user, aud = org.default_user.username, emu.login_url
    assertion = {
        "wrong_key": lambda: _assertion(
            rsa.generate_private_key(public_exponent=65537, key_size=2048), user, aud
        ),
        "expired": lambda: _assertion(rsa_key, user, aud, exp_in=-600),
        "far_future": lambda: _assertion(rsa_key, user, aud, exp_in=86400),
        "bad_audience": lambda: _assertion(rsa_key, user, "https://example.com"),
        "unknown_user": lambda: _assertion(rsa_key, "nobody@example.com", aud),
        "unknown_client": lambda: _assertion(rsa_key, user, aud, iss="nobody"),
    }[case]()
    answer = _token(emu.login_url, verify, grant_type=JWT_GRANT, assertion=assertion)
    assert answer.status_code == 400
    assert answer.json()["error"] == error
