"""The OAuth dance in plain requests, for the tests of the emulator's real-org behaviours."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import requests

from sfsync_emulator.tokens import pkce_challenge
from tests.integration.emulator.emulator_helpers import CLIENT_ID, REDIRECT_URI


def authorize(
    host: str, verify: str, client_id: str = CLIENT_ID, login_hint: str | None = None
) -> tuple[dict[str, str], str]:
    """Run authorize with PKCE; return the redirect's query (code or error) and the verifier."""
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    answer = requests.get(
        f"{host}/services/oauth2/authorize",
        params=params,
        allow_redirects=False,
        verify=verify,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    return {key: values[0] for key, values in query.items()}, verifier


def token(host: str, verify: str, **form: str) -> requests.Response:
    """POST a form to the token endpoint."""
    return requests.post(f"{host}/services/oauth2/token", data=form, verify=verify, timeout=10)


def exchange(host: str, verify: str, client_id: str = CLIENT_ID, **extra: str) -> requests.Response:
    """Authorize and exchange the code (with `extra` form fields, e.g. client_secret)."""
    query, verifier = authorize(host, verify, client_id, extra.pop("login_hint", None))
    assert "code" in query, query
    return token(
        host,
        verify,
        grant_type="authorization_code",
        code=query["code"],
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
        **extra,
    )


def refresh(host: str, verify: str, refresh_token: str, client_id: str = CLIENT_ID, **extra: str):
    """Use a refresh token."""
    return token(
        host,
        verify,
        grant_type="refresh_token",
        refresh_token=refresh_token,
        client_id=client_id,
        **extra,
    )
