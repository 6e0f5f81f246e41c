"""The grants sfsync uses (FACTS section 1): web server + PKCE, device, JWT bearer, refresh,
and revocation. Each builds its request as data and sends it through `token_endpoint`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from oauthlib.common import UNICODE_ASCII_CHARACTER_SET, generate_token
from oauthlib.oauth2 import WebApplicationClient
from requests_oauthlib import OAuth2Session

from sfsync.config.names import authorize_arguments
from sfsync.errors import AuthorizationError, OAuthServerError, UsageError
from sfsync.salesforce.token_endpoint import (
    REVOKE_PATH,
    TokenAnswer,
    answer_from,
    post_form,
    read_json,
    refusal_error,
    refusal_of,
    request_token,
    token_url,
)

AUTHORIZE_PATH = "/services/oauth2/authorize"
SCOPES = ("api", "refresh_token")
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180  # Salesforce: "within 3 minutes" (FACTS 1d)
SLOW_DOWN_STEP = 5  # seconds added to the interval on slow_down (RFC 8628 section 3.5)


# -- web server flow with PKCE -------------------------------------------------------------


@dataclass
class WebFlow:
    """A started web-server flow: the URL to open, the state to expect back, and the
    requests-oauthlib session holding the PKCE verifier.
    """

    authorization_url: str
    state: str
    oauth: OAuth2Session


class SalesforcePkceClient(WebApplicationClient):  # type: ignore[misc]
    """oauthlib's web client, with PKCE verifiers drawn from letters, digits, "-", "." and "_".

    RFC 7636 also allows "~", but real orgs have been seen refusing verifiers holding it
    (cognizant-ai-lab/nsflow#249), and oauthlib picks it about half the time at 43 characters.
    """

    def create_code_verifier(self, length: int) -> str:
        """Return a fresh verifier of `length` characters, never holding "~"."""
        verifier: str = generate_token(length, UNICODE_ASCII_CHARACTER_SET + "-._")
        self.code_verifier = verifier
        return verifier


def start_web_flow(
    http: requests.Session, login_url: str, client_id: str, redirect_uri: str
) -> WebFlow:
    """Given the login URL, client id and loopback redirect, return the authorize URL (PKCE
    S256, a fresh state) and what finishing the flow needs.
    """
    oauth = OAuth2Session(
        client_id,
        client=SalesforcePkceClient(client_id),
        redirect_uri=redirect_uri,
        scope=list(SCOPES),
        pkce="S256",
    )
    # The token exchange must trust what the rest of sfsync trusts.
    for prefix, adapter in http.adapters.items():
        oauth.mount(prefix, adapter)
    # Redirects are never followed on token requests (SPEC section 7): the code exchange
    # carries the verifier and maybe the consumer secret.
    oauth.max_redirects = 0
    # prompt=login: the admin picks the user on purpose, not whoever the browser is logged in as.
    url, state = oauth.authorization_url(login_url.rstrip("/") + AUTHORIZE_PATH, prompt="login")
    # Salesforce may grant more scopes than asked (e.g. "id"); oauthlib would raise on that.
    oauth.scope = None
    return WebFlow(url, state, oauth)


def finish_web_flow(
    flow: WebFlow,
    http: requests.Session,
    login_url: str,
    code: str,
    connector: str,
    *,
    client_secret: str | None = None,
) -> TokenAnswer:
    """Given a started flow and the code the callback received (its state already checked),
    exchange the code and verifier (and the consumer secret, when the app wants one) for
    tokens.

    Raise AuthorizationError if Salesforce refuses, OAuthServerError on a broken answer.
    """
    checked: dict[str, Any] = {}

    def check(response: requests.Response) -> requests.Response:
        # requests-oauthlib hands us the raw answer first: read it with our rules, once.
        body = read_json(response, "code exchange")
        refusal = refusal_of(response, body)
        if refusal is not None:
            raise refusal_error(refusal, connector, "code exchange")
        checked.update(body)
        return response

    flow.oauth.register_compliance_hook("access_token_response", check)
    settings = http.merge_environment_settings(token_url(login_url), {}, None, None, None)
    try:
        flow.oauth.fetch_token(
            token_url(login_url),
            code=code,
            include_client_id=True,
            client_secret=client_secret,
            verify=settings["verify"],
            timeout=getattr(http, "default_timeout", None),
        )
    except requests.TooManyRedirects:
        raise OAuthServerError(
            f"{login_url}: the code exchange answered with a redirect, which sfsync does not "
            "follow for token requests; check the login URL"
        ) from None
    except requests.RequestException as error:
        raise OAuthServerError(f"{login_url}: code exchange failed: {error}") from None
    except (AuthorizationError, OAuthServerError):
        raise
    except Exception as error:  # noqa: BLE001 - oauthlib raises many kinds for a bad answer
        raise OAuthServerError(
            f"{login_url}: code exchange answer was not usable: {type(error).__name__}"
        ) from None
    return answer_from(checked, token_url(login_url), "code exchange", login_url)


# -- device flow (Salesforce's own parameters, FACTS 1c) ---------------------------------------


@dataclass(frozen=True)
class DeviceCode:
    """A started device flow: what to show the user and what to poll with."""

    device_code: str
    user_code: str
    verification_uri: str
    interval: int

    def __repr__(self) -> str:
        return (
            f"DeviceCode(user_code={self.user_code!r}, verification_uri={self.verification_uri!r})"
        )


def start_device_flow(
    http: requests.Session, login_url: str, client_id: str, connector: str
) -> DeviceCode:
    """Ask the token endpoint for a device code (`response_type=device_code`, not RFC 8628).

    Raise AuthorizationError if refused (the app may not have the device flow enabled).
    """
    form = {"response_type": "device_code", "client_id": client_id, "scope": " ".join(SCOPES)}
    response = post_form(http, token_url(login_url), form)
    body = read_json(response, "device flow start")
    refusal = refusal_of(response, body)
    if refusal is not None:
        error = refusal_error(refusal, connector, "device flow start")
        raise AuthorizationError(
            f"{error}; the device flow must be enabled on the External Client App"
        )
    try:
        return DeviceCode(
            device_code=str(body["device_code"]),
            user_code=str(body["user_code"]),
            verification_uri=str(body["verification_uri"]),
            interval=int(body.get("interval", 5)),
        )
    except (KeyError, ValueError) as error:
        raise OAuthServerError(
            f"{response.url}: device flow answer lacks {error}; not a Salesforce answer"
        ) from None


def poll_device_flow(
    http: requests.Session,
    login_url: str,
    client_id: str,
    device: DeviceCode,
    connector: str,
    *,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> TokenAnswer:
    """Poll (`grant_type=device`, `code=...`) at the given interval until the user approves.

    `authorization_pending` (HTTP 400 on Salesforce) keeps polling; `slow_down` lengthens the
    interval. Raise AuthorizationError when refused, expired or after `timeout` seconds.
    """
    form = {"grant_type": "device", "code": device.device_code, "client_id": client_id}
    interval = float(device.interval)
    deadline = monotonic() + timeout
    while True:
        sleep(interval)
        response = post_form(http, token_url(login_url), form)
        body = read_json(response, "device flow poll")
        refusal = refusal_of(response, body)
        if refusal is None:
            return answer_from(body, response.url, "device flow", login_url)
        if refusal.error == "slow_down":
            interval += SLOW_DOWN_STEP
        elif refusal.error != "authorization_pending":
            raise refusal_error(refusal, connector, "device authorization")
        if monotonic() + interval > deadline:
            raise AuthorizationError(
                f"{connector}: the device code {device.user_code} was not approved within "
                f"{timeout:g}s; run `sfsync authorize {authorize_arguments(connector)} "
                "--flow device` again"
            )


# -- JWT bearer ---------------------------------------------------------------------------------

_PRODUCTION_HOSTS = ("login.salesforce.com", ".my.salesforce.com")
_SANDBOX_HOSTS = ("test.salesforce.com", ".sandbox.my.salesforce.com")


def jwt_audience(login_url: str) -> str:
    """Given a login URL, return the JWT `aud`: test.salesforce.com for sandboxes,
    login.salesforce.com for production and My Domain, else the login URL itself.
    """
    host = urlsplit(login_url).hostname or ""
    if host.endswith(_SANDBOX_HOSTS):
        return "https://test.salesforce.com"
    if host.endswith(_PRODUCTION_HOSTS):
        return "https://login.salesforce.com"
    return login_url.rstrip("/")


def jwt_assertion(
    client_id: str, username: str, audience: str, private_key_pem: bytes, now: datetime
) -> str:
    """Return an RS256 JWT for the bearer grant, valid for three minutes from `now`."""
    claims = {
        "iss": client_id,
        "sub": username,
        "aud": audience,
        "exp": int(now.timestamp()) + JWT_LIFETIME_SECONDS,
    }
    try:
        return jwt.encode(claims, private_key_pem, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as error:
        raise UsageError(f"the JWT key is not a usable RSA private key (PEM): {error}") from None


def jwt_grant(
    http: requests.Session, login_url: str, assertion: str, connector: str
) -> TokenAnswer:
    """Exchange a JWT assertion for an access token (no refresh token comes back)."""
    form = {"grant_type": JWT_GRANT, "assertion": assertion}
    return request_token(
        http,
        token_url(login_url),
        form,
        connector=connector,
        what="JWT bearer grant",
        login_url=login_url,
    )


# -- refresh and revoke ---------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshRequest:
    """What a refresh grant sends: the token, the app (and its secret, when it wants one), and
    the login URL whose hosts the answer may name.
    """

    base_url: str
    login_url: str
    client_id: str
    refresh_token: str
    client_secret: str | None = None

    def __repr__(self) -> str:
        return f"RefreshRequest(base_url={self.base_url!r}, client_id={self.client_id!r})"


def refresh_grant(http: requests.Session, request: RefreshRequest, connector: str) -> TokenAnswer:
    """Exchange a refresh token for a new access token (and, with rotation, a new refresh
    token). Raise AuthorizationError on invalid_grant, a bad client id or a missing secret.
    """
    form = {
        "grant_type": "refresh_token",
        "refresh_token": request.refresh_token,
        "client_id": request.client_id,
    }
    if request.client_secret:
        form["client_secret"] = request.client_secret
    return request_token(
        http,
        token_url(request.base_url),
        form,
        connector=connector,
        what="token refresh",
        login_url=request.login_url,
    )


def revoke_token(http: requests.Session, base_url: str, token: str, connector: str) -> None:
    """Revoke a token (a refresh token takes its access tokens along).

    An `invalid_token` answer means it is already gone, which is what was asked. Raise
    SalesforceUnreachableError if no answer comes, OAuthServerError for any other failure.
    """
    url = base_url.rstrip("/") + REVOKE_PATH
    response = post_form(http, url, {"token": token})
    if response.ok:
        return
    if response.status_code < 500 and "invalid_token" in response.text:  # noqa: PLR2004
        return
    raise OAuthServerError(
        f"{connector}: revoking at {url} failed with HTTP {response.status_code}"
    )
