"""Web server flow with PKCE, refresh, rotation, revoke and identity, via requests-oauthlib."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import trustme
from requests_oauthlib import OAuth2Session

from sfsync_emulator import Emulator
from sfsync_emulator.tokens import pkce_challenge
from tests.integration.emulator.emulator_helpers import API, CLIENT_ID, REDIRECT_URI

TOKEN_KEYS = {"access_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"}


def _authorize(host: str, verify: str, **extra: str) -> tuple[OAuth2Session, dict[str, list[str]]]:
    """Run authorize through requests-oauthlib and return the session and the redirect's query."""
    oauth = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI, pkce="S256")
    url, _ = oauth.authorization_url(f"{host}/services/oauth2/authorize", **extra)
    answer = requests.get(url, allow_redirects=False, verify=verify, timeout=10)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return oauth, parse_qs(urlsplit(location).query)


def _login(host: str, verify: str, **extra: str) -> tuple[OAuth2Session, dict[str, str]]:
    """Authorize and exchange the code; return the session and the raw token answer."""
    oauth, query = _authorize(host, verify, **extra)
    token = oauth.fetch_token(
        f"{host}/services/oauth2/token",
        code=query["code"][0],
        include_client_id=True,
        verify=verify,
    )
    return oauth, dict(token)


def _raw_token(host: str, verify: str, **form: str) -> requests.Response:
    """POST a form to the token endpoint."""
    return requests.post(f"{host}/services/oauth2/token", data=form, verify=verify, timeout=10)


def test_pkce_login_on_login_host_returns_salesforce_token_shape(emu, org, verify):
    """A PKCE login on the login host answers Salesforce's keys: refresh_token, no expires_in."""
    _, token = _login(emu.login_url, verify)
    assert TOKEN_KEYS | {"refresh_token"} <= set(token)
    assert "expires_in" not in token or token["expires_in"] is None
    assert token["instance_url"] == org.instance_url
    assert token["id"] == f"{emu.login_url}/id/{org.org_id}/{org.default_user.user_id}"
    assert token["access_token"].startswith(org.org_id[:15] + "!AQ")
    assert token["refresh_token"].startswith("5Aep861")
    assert token["token_type"] == "Bearer"
    assert isinstance(token["issued_at"], str)
    assert token["issued_at"].isdigit()
    assert len(token["issued_at"]) == 13


def test_raw_token_answer_has_no_expires_in(emu, org, verify):
    """The token endpoint's JSON (not oauthlib's view of it) carries no expires_in."""
    oauth, query = _authorize(emu.login_url, verify)
    answer = _raw_token(
        emu.login_url,
        verify,
        grant_type="authorization_code",
        code=query["code"][0],
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        code_verifier=oauth._code_verifier,
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert set(answer.json()) == TOKEN_KEYS | {"refresh_token"}


def test_state_is_echoed_and_login_hint_picks_the_org(emu, verify):
    """Authorize echoes state and logs in the org whose user login_hint names."""
    emu.add_org(name="first")
    second = emu.add_org(name="second")
    _, query = _authorize(emu.login_url, verify, login_hint=second.default_user.username)
    assert "state" in query
    oauth, query = _authorize(emu.login_url, verify, login_hint=second.default_user.username)
    token = oauth.fetch_token(
        f"{emu.login_url}/services/oauth2/token",
        code=query["code"][0],
        include_client_id=True,
        verify=verify,
    )
    assert token["instance_url"] == second.instance_url


def test_org_host_serves_oauth_like_my_domain(org, verify):
    """The org's own host answers authorize and token, like a My Domain login host."""
    _, token = _login(org.instance_url, verify)
    assert token["instance_url"] == org.instance_url


def test_consent_denied_redirects_with_access_denied(emu, org, verify):
    """A denied consent redirects back with error=access_denied and the state."""
    emu.consent = "deny"
    oauth = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI, pkce="S256")
    url, state = oauth.authorization_url(f"{emu.login_url}/services/oauth2/authorize")
    answer = requests.get(url, allow_redirects=False, verify=verify, timeout=10)
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == [state]


@pytest.mark.parametrize(
    ("client_id", "redirect_uri", "error"),
    [
        ("nobody", REDIRECT_URI, "invalid_client_id"),
        (CLIENT_ID, "http://evil.example/cb", "redirect_uri_mismatch"),
    ],
)
def test_bad_client_or_redirect_goes_to_error_page(  # noqa: PLR0917
    emu, org, verify, client_id, redirect_uri, error
):
    """An unknown client or unregistered redirect_uri never redirects to the given URI."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri}
    answer = requests.get(
        f"{emu.login_url}/services/oauth2/authorize",
        params=params,
        allow_redirects=False,
        verify=verify,
        timeout=10,
    )
    location = answer.headers["Location"]
    assert "RemoteAccessErrorPage" in location
    assert parse_qs(urlsplit(location).query)["error"] == [error]
    page = requests.get(location, verify=verify, timeout=10)
    assert error in page.text


@pytest.mark.parametrize(
    ("verifier", "error"),
    [("wrong-verifier-" + "x" * 40, "invalid_request"), (None, "invalid_grant")],
)
def test_pkce_verifier_errors_follow_salesforce(emu, org, verify, verifier, error):
    """A wrong code_verifier answers invalid_request; a missing one answers invalid_grant."""
    _, query = _authorize(emu.login_url, verify)
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
    }
    if verifier:
        form["code_verifier"] = verifier
    answer = _raw_token(emu.login_url, verify, **form)
    assert answer.status_code == 400
    assert answer.json()["error"] == error
    assert set(answer.json()) == {"error", "error_description"}


def test_code_is_single_use(emu, org, verify):
    """Redeeming an authorization code twice answers invalid_grant."""
    oauth, query = _authorize(emu.login_url, verify)
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": oauth._code_verifier,
    }
    assert _raw_token(emu.login_url, verify, **form).status_code == 200
    again = _raw_token(emu.login_url, verify, **form)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "invalid authorization code",
    }


def test_unknown_grant_type_and_client(emu, org, verify):
    """An unsupported grant type and an unknown client answer Salesforce's OAuth errors."""
    unknown = _raw_token(emu.login_url, verify, grant_type="password", client_id=CLIENT_ID)
    assert unknown.json()["error"] == "unsupported_grant_type"
    nobody = _raw_token(emu.login_url, verify, grant_type="refresh_token", client_id="nobody")
    assert nobody.json()["error"] == "invalid_client_id"


def test_refresh_returns_no_new_refresh_token(emu, org, verify):
    """A refresh answers a new access token and no refresh_token (rotation off)."""
    oauth, token = _login(emu.login_url, verify)
    answer = _raw_token(
        emu.login_url,
        verify,
        grant_type="refresh_token",
        refresh_token=token["refresh_token"],
        client_id=CLIENT_ID,
    )
    assert answer.status_code == 200
    assert set(answer.json()) == TOKEN_KEYS
    refreshed = oauth.refresh_token(
        f"{emu.login_url}/services/oauth2/token", client_id=CLIENT_ID, verify=verify
    )
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] == token["refresh_token"]


def test_rotation_issues_new_refresh_token_and_retires_old(emu, verify):
    """With rotation on, a refresh returns a new refresh token; reusing the old kills the family."""
    emu.add_org(name="rotating", rotate_refresh_tokens=True)
    _, token = _login(emu.login_url, verify)
    form = {"grant_type": "refresh_token", "client_id": CLIENT_ID}
    first = _raw_token(emu.login_url, verify, refresh_token=token["refresh_token"], **form).json()
    assert first["refresh_token"] != token["refresh_token"]
    reuse = _raw_token(emu.login_url, verify, refresh_token=token["refresh_token"], **form)
    assert reuse.status_code == 400
    assert reuse.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }
    killed = _raw_token(emu.login_url, verify, refresh_token=first["refresh_token"], **form)
    assert killed.status_code == 400


def test_revoke_refresh_token_kills_its_access_tokens(emu, org, verify):
    """Revoking a refresh token answers 200 empty and its access tokens stop working."""
    _, token = _login(emu.login_url, verify)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    limits = f"{org.instance_url}{API}/limits"
    assert requests.get(limits, headers=headers, verify=verify, timeout=10).status_code == 200
    revoked = requests.post(
        f"{org.instance_url}/services/oauth2/revoke",
        data={"token": token["refresh_token"]},
        verify=verify,
        timeout=10,
    )
    assert revoked.status_code == 200
    assert revoked.content == b""
    after = requests.get(limits, headers=headers, verify=verify, timeout=10)
    assert after.status_code == 401
    again = requests.post(
        f"{org.instance_url}/services/oauth2/revoke",
        data={"token": "not-a-token"},
        verify=verify,
        timeout=10,
    )
    assert again.status_code == 400
    assert parse_qs(again.text) == {
        "error": ["unsupported_token_type"],
        "error_description": ["this token type is not supported"],
    }


def test_identity_and_userinfo(emu, org, verify):
    """The identity URL and userinfo answer the user's ids for a Bearer token, 403 without one;
    like a real org, a token without the id/openid/profile scope gets 403 too unless the org is
    told otherwise.
    """
    _, token = _login(emu.login_url, verify)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert "id" not in token["scope"]
    scoped = requests.get(token["id"], headers=headers, verify=verify, timeout=10)
    assert scoped.status_code == 403
    org.identity_needs_scope = False
    identity = requests.get(token["id"], headers=headers, verify=verify, timeout=10).json()
    assert identity["user_id"] == org.default_user.user_id
    assert identity["organization_id"] == org.org_id
    assert identity["username"] == org.default_user.username
    assert {"display_name", "urls", "id"} <= set(identity)
    info = requests.get(
        f"{org.instance_url}/services/oauth2/userinfo", headers=headers, verify=verify, timeout=10
    ).json()
    assert info["preferred_username"] == org.default_user.username
    assert info["organization_id"] == org.org_id
    bad = requests.get(token["id"], verify=verify, timeout=10)
    assert bad.status_code == 403


def test_per_request_verify_wins_over_requests_ca_bundle(emu, org, verify, tmp_path, monkeypatch):
    """With REQUESTS_CA_BUNDLE pointing elsewhere, verify= passed per request still works."""
    other = tmp_path / "corporate-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    with requests.Session() as session:
        session.verify = verify  # loses to the environment: psf/requests#3829
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"{org.instance_url}{API}/limits", timeout=10)
    _, token = _login(emu.login_url, verify)
    assert token["access_token"]


def test_token_of_one_org_is_refused_by_another(emu, verify):
    """An access token of org A answers 401 INVALID_SESSION_ID on org B."""
    org_a, org_b = emu.add_org(name="a"), emu.add_org(name="b")
    access, _ = org_a.issue_session(CLIENT_ID)
    headers = {"Authorization": f"Bearer {access}"}
    answer = requests.get(
        f"{org_b.instance_url}{API}/limits", headers=headers, verify=verify, timeout=10
    )
    assert answer.status_code == 401
    assert answer.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    own = requests.get(
        f"{org_a.instance_url}{API}/limits", headers=headers, verify=verify, timeout=10
    )
    assert own.status_code == 200


def test_refresh_token_of_another_org_is_refused_on_its_host(emu, verify):
    """An org's own host refuses a refresh token issued in another org."""
    org_a, org_b = emu.add_org(name="ra"), emu.add_org(name="rb")
    _, refresh = org_a.issue_session(CLIENT_ID)
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": CLIENT_ID}
    assert _raw_token(org_b.instance_url, verify, **form).status_code == 400
    assert _raw_token(org_a.instance_url, verify, **form).status_code == 200


def test_tilde_in_verifier_can_be_refused_like_real_orgs(verify):
    """With pkce_rejects_tilde, a code_verifier holding "~" answers invalid_grant."""
    with Emulator(pkce_rejects_tilde=True) as emu:
        emu.register_client(CLIENT_ID, [REDIRECT_URI])
        emu.add_org(name="strict")
        ca = str(emu.ca_path)
        for verifier, status in (("a~" + "b" * 50, 400), ("a_" + "b" * 50, 200)):
            challenge = pkce_challenge(verifier)
            params = {
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "code_challenge": challenge,
            }
            url = f"{emu.login_url}/services/oauth2/authorize"
            location = requests.get(
                url, params=params, allow_redirects=False, verify=ca, timeout=10
            )
            code = parse_qs(urlsplit(location.headers["Location"]).query)["code"][0]
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            }
            answer = _raw_token(emu.login_url, ca, **form)
            assert answer.status_code == status
