"""Issue 13, OAuth side: per-org client apps, secret switches, approvals, identity, refusals."""

from __future__ import annotations

import re

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from sfsync_emulator import Emulator, OrgHandle
from tests.integration.emulator.emulator_helpers import API, CLIENT_ID, REDIRECT_URI
from tests.integration.emulator.real_org_helpers import authorize, exchange, refresh
from tests.integration.emulator.test_emulator_device_and_jwt import (
    JWT_GRANT,
    _assertion,
    _certificate,
)

LOCAL = "local-app"
BAD_SECRET = {"error": "invalid_client", "error_description": "invalid client credentials"}
EXPIRED = {"error": "invalid_grant", "error_description": "expired access/refresh token"}


@pytest.fixture
def other(emu: Emulator) -> OrgHandle:
    """A second org of the same emulator."""
    return emu.add_org(name="other")


def test_local_client_is_refused_on_another_orgs_host(emu, org, other, verify):
    """A client_id registered in one org answers invalid_client_id at another org's authorize."""
    org.register_client(LOCAL, [REDIRECT_URI])
    assert "code" in authorize(org.instance_url, verify, LOCAL)[0]
    query, _ = authorize(other.instance_url, verify, LOCAL)
    assert query["error"] == "invalid_client_id"


def test_local_client_is_refused_at_another_orgs_token_endpoint(emu, org, other, verify):
    """The token endpoint of another org does not know a local client_id either."""
    org.register_client(LOCAL, [REDIRECT_URI])
    _, refresh_token = other.issue_session(CLIENT_ID)
    answer = refresh(other.instance_url, verify, refresh_token or "", LOCAL)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client_id"


def test_local_client_refuses_another_orgs_user_on_the_login_host(emu, org, other, verify):
    """On the shared login host, a user of another org cannot use an org's local app."""
    org.register_client(LOCAL, [REDIRECT_URI])
    query, _ = authorize(emu.login_url, verify, LOCAL, other.default_user.username)
    assert query["error"] == "invalid_client_id"


def test_global_client_still_works_where_orgs_have_local_ones(emu, org, other, verify):
    """The emulator-wide client stays accepted in an org that also has its own apps."""
    org.register_client(LOCAL, [REDIRECT_URI])
    assert exchange(org.instance_url, verify).status_code == 200


def test_require_secret_web_refuses_a_code_exchange_without_or_with_a_wrong_secret(org, verify):
    """With the web-server switch on, the code exchange needs the right client_secret."""
    org.register_client(LOCAL, [REDIRECT_URI], secret="s3cret", require_secret_web=True)
    missing = exchange(org.instance_url, verify, LOCAL)
    wrong = exchange(org.instance_url, verify, LOCAL, client_secret="nope")
    right = exchange(org.instance_url, verify, LOCAL, client_secret="s3cret")
    assert (missing.status_code, missing.json()) == (400, BAD_SECRET)
    assert (wrong.status_code, wrong.json()) == (400, BAD_SECRET)
    assert right.status_code == 200


def test_require_secret_refresh_refuses_only_the_refresh(org, verify):
    """With the refresh switch on, the exchange passes but a refresh without the secret fails."""
    org.register_client(LOCAL, [REDIRECT_URI], secret="s3cret", require_secret_refresh=True)
    granted = exchange(org.instance_url, verify, LOCAL)
    assert granted.status_code == 200
    value = granted.json()["refresh_token"]
    missing = refresh(org.instance_url, verify, value, LOCAL)
    assert (missing.status_code, missing.json()) == (400, BAD_SECRET)
    assert refresh(org.instance_url, verify, value, LOCAL, client_secret="s3cret").ok


def test_sixth_approval_revokes_the_oldest(emu, verify):
    """Past approval_limit approvals of one user through one app, the oldest refresh dies."""
    org = emu.add_org(name="limited", approval_limit=5)
    tokens = [exchange(org.instance_url, verify).json()["refresh_token"] for _ in range(6)]
    assert org.approvals(client_id=CLIENT_ID) == 5
    oldest = refresh(org.instance_url, verify, tokens[0])
    assert (oldest.status_code, oldest.json()) == (400, EXPIRED)
    assert refresh(org.instance_url, verify, tokens[1]).ok


def test_approvals_are_counted_per_user(org, verify):
    """Another user's approvals do not count against the first user's."""
    org.add_user("second@sandbox.example.com")
    exchange(org.instance_url, verify)
    exchange(org.instance_url, verify, login_hint="second@sandbox.example.com")
    assert org.approvals() == 1
    assert org.approvals(user="second@sandbox.example.com", client_id=CLIENT_ID) == 1


def test_identity_url_holds_18_character_org_and_user_ids(emu, org, verify):
    """The token answer's id is https://<login host>/id/00D.../005..., both ids 18 long."""
    identity = exchange(org.instance_url, verify).json()["id"]
    pattern = rf"{re.escape(emu.login_url)}/id/(00D\w{{15}})/(005\w{{15}})"
    match = re.fullmatch(pattern, identity)
    assert match is not None, identity
    assert match.groups() == (org.org_id, org.default_user.user_id)


def test_identity_needs_the_id_scope_when_switched_on(emu, org, verify):
    """With identity_needs_scope, the identity URL answers 403 to a token without `id`."""
    org.identity_needs_scope = True
    url = f"{emu.login_url}/id/{org.org_id}/{org.default_user.user_id}"
    without, _ = org.issue_session(CLIENT_ID, scope="refresh_token api web")
    with_id, _ = org.issue_session(CLIENT_ID, scope="refresh_token api web id")
    get = lambda value: requests.get(  # noqa: E731 - two calls
        url, headers={"Authorization": f"Bearer {value}"}, verify=verify, timeout=10
    )
    assert get(without).status_code == 403
    assert get(with_id).status_code == 200


def test_user_record_answers_the_username(org, verify):
    """GET sobjects/User/<id>?fields=Username answers the username and Id for a valid token."""
    access, _ = org.issue_session(CLIENT_ID)
    user = org.default_user
    answer = requests.get(
        f"{org.instance_url}{API}/sobjects/User/{user.user_id}",
        params={"fields": "Username"},
        headers={"Authorization": f"Bearer {access}"},
        verify=verify,
        timeout=10,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["Username"], body["Id"]) == (user.username, user.user_id)


def test_ip_restriction_refuses_grants(org, verify):
    """An IP-restricted org answers invalid_grant / ip restricted to a refresh."""
    _, value = org.issue_session(CLIENT_ID)
    org.ip_restricted = True
    answer = refresh(org.instance_url, verify, value or "")
    assert (answer.status_code, answer.json()["error_description"]) == (400, "ip restricted")
    assert answer.json()["error"] == "invalid_grant"


def test_inactive_user_is_refused(org, verify):
    """A deactivated user's refresh answers invalid_grant / inactive user."""
    _, value = org.issue_session(CLIENT_ID)
    org.deactivate_user(org.default_user.username)
    answer = refresh(org.instance_url, verify, value or "")
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "error_description": "inactive user"}


def test_revoked_refresh_token_is_expired(org, verify):
    """A revoked refresh token answers invalid_grant / expired access/refresh token."""
    _, value = org.issue_session(CLIENT_ID)
    requests.post(
        f"{org.instance_url}/services/oauth2/revoke",
        data={"token": value},
        verify=verify,
        timeout=10,
    )
    answer = refresh(org.instance_url, verify, value or "")
    assert (answer.status_code, answer.json()) == (400, EXPIRED)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """An RSA key for the JWT tests."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_jwt_for_a_user_not_preauthorized_is_refused(emu, org, verify, rsa_key):
    """JWT for a user the app does not pre-authorize: invalid_grant, not approved."""
    org.add_user("outsider@sandbox.example.com")
    org.register_client(
        "jwt-local",
        jwt_certificate_pem=_certificate(rsa_key),
        preauthorized=[org.default_user.username],
    )
    grant = {"grant_type": JWT_GRANT}
    ok = _assertion(rsa_key, org.default_user.username, emu.login_url, iss="jwt-local")
    refused = _assertion(rsa_key, "outsider@sandbox.example.com", emu.login_url, iss="jwt-local")
    url = f"{org.instance_url}/services/oauth2/token"
    assert requests.post(url, data={**grant, "assertion": ok}, verify=verify, timeout=10).ok
    answer = requests.post(url, data={**grant, "assertion": refused}, verify=verify, timeout=10)
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "user hasn't approved this consumer",
    }


def test_control_endpoint_registers_a_jwt_client(emu, org, verify, rsa_key):
    """POST /_emulator/clients registers an org's JWT app from outside; the grant then works."""
    body = {
        "client_id": "outside-jwt",
        "org": org.name,
        "jwt_certificate_pem": _certificate(rsa_key),
        "preauthorized": [org.default_user.username],
    }
    registered = requests.post(
        f"{emu.login_url}/_emulator/clients", json=body, verify=verify, timeout=10
    )
    assert registered.json() == {"ok": True, "client_id": "outside-jwt", "org_id": org.org_id}
    assertion = _assertion(rsa_key, org.default_user.username, emu.login_url, iss="outside-jwt")
    answer = requests.post(
        f"{emu.login_url}/services/oauth2/token",
        data={"grant_type": JWT_GRANT, "assertion": assertion},
        verify=verify,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["instance_url"] == org.instance_url


def test_sandbox_refresh_changes_the_org_id_and_kills_tokens(emu, org, verify):
    """A refreshed sandbox has a new org id, and its old refresh tokens answer invalid_grant."""
    _, value = org.issue_session(CLIENT_ID)
    old_id = org.org_id
    org.refresh_sandbox(None)
    assert org.org_id != old_id
    assert org.org_id.startswith("00D")
    answer = refresh(org.instance_url, verify, value or "")
    assert (answer.status_code, answer.json()) == (400, EXPIRED)
    assert exchange(org.instance_url, verify).status_code == 200  # authorizing again works
