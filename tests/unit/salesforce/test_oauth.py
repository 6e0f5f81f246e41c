"""The grants: device flow with Salesforce's own parameters, JWT assertions, web flow, revoke."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sfsync.errors import AuthorizationError, OAuthServerError, UsageError
from sfsync.http_session import HttpSettings, new_http_session
from sfsync.salesforce.oauth import (
    DeviceCode,
    finish_web_flow,
    jwt_assertion,
    jwt_audience,
    poll_device_flow,
    revoke_token,
    start_device_flow,
    start_web_flow,
)
from tests.unit.salesforce.sf_helpers import (
    CONNECTOR,
    INSTANCE,
    NOW,
    REFRESH,
    form_of,
    token_answer,
)

LOGIN = "https://test.salesforce.com"
LOGIN_TOKEN = LOGIN + "/services/oauth2/token"
PENDING = {"error": "authorization_pending", "error_description": "authorization pending"}


@pytest.fixture
def http() -> requests.Session:
    """A Salesforce HTTP session (its transport mocked by responses)."""
    return new_http_session(HttpSettings(timeout=5))


class FakeTime:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@responses.activate
def test_device_start_uses_response_type_device_code(http: requests.Session) -> None:
    """The device flow starts at the token endpoint with response_type=device_code."""
    responses.post(
        LOGIN_TOKEN,
        json={
            "device_code": "dc",
            "user_code": "08T3AY9D",
            "interval": 5,
            "verification_uri": LOGIN + "/setup/connect",
        },
    )
    device = start_device_flow(http, LOGIN, "client", CONNECTOR)
    assert device == DeviceCode("dc", "08T3AY9D", LOGIN + "/setup/connect", 5)
    form = form_of(responses.calls[0].request.body)
    assert form["response_type"] == ["device_code"]
    assert form["client_id"] == ["client"]


@responses.activate
def test_device_start_refused_says_enable_it(http: requests.Session) -> None:
    """A refused device start tells the admin to enable the device flow on the app."""
    responses.post(LOGIN_TOKEN, status=400, json={"error": "invalid_request"})
    with pytest.raises(AuthorizationError, match="device flow must be enabled"):
        start_device_flow(http, LOGIN, "client", CONNECTOR)


@responses.activate
def test_device_poll_pending_slow_down_then_success(http: requests.Session) -> None:
    """Polling uses grant_type=device and code=, keeps on pending, slows down on slow_down."""
    responses.post(LOGIN_TOKEN, status=400, json=PENDING)
    responses.post(LOGIN_TOKEN, status=400, json={"error": "slow_down"})
    responses.post(LOGIN_TOKEN, json=token_answer(refresh=REFRESH))
    clock = FakeTime()
    answer = poll_device_flow(
        http,
        LOGIN,
        "client",
        DeviceCode("dc", "UC", "u", 5),
        CONNECTOR,
        timeout=60,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
    assert answer.refresh_token == REFRESH
    assert clock.sleeps == [5, 5, 10]
    form = form_of(responses.calls[0].request.body)
    assert form == {"grant_type": ["device"], "code": ["dc"], "client_id": ["client"]}


@responses.activate
def test_device_poll_times_out(http: requests.Session) -> None:
    """A code nobody approves ends with AuthorizationError after the timeout."""
    responses.post(LOGIN_TOKEN, status=400, json=PENDING)
    clock = FakeTime()
    with pytest.raises(AuthorizationError, match="not approved within 12s"):
        poll_device_flow(
            http,
            LOGIN,
            "client",
            DeviceCode("dc", "UC", "u", 5),
            CONNECTOR,
            timeout=12,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
        )


@responses.activate
def test_device_poll_denied(http: requests.Session) -> None:
    """access_denied while polling is an AuthorizationError at once."""
    responses.post(LOGIN_TOKEN, status=400, json={"error": "access_denied"})
    clock = FakeTime()
    with pytest.raises(AuthorizationError, match="access_denied"):
        poll_device_flow(
            http,
            LOGIN,
            "c",
            DeviceCode("dc", "UC", "u", 1),
            CONNECTOR,
            timeout=60,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
        )


def test_jwt_assertion_claims() -> None:
    """The assertion is RS256 with iss, sub, aud and exp three minutes ahead, in seconds."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    token = jwt_assertion("client", "ops@acme.com", "https://test.salesforce.com", pem, NOW)
    claims = jwt.decode(
        token,
        key.public_key(),
        algorithms=["RS256"],
        audience="https://test.salesforce.com",
        options={"verify_exp": False},
    )
    assert claims == {
        "iss": "client",
        "sub": "ops@acme.com",
        "aud": "https://test.salesforce.com",
        "exp": int((NOW + timedelta(seconds=180)).timestamp()),
    }
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_jwt_assertion_refuses_a_bad_key() -> None:
    """A key file that is not an RSA private key is a UsageError, not a traceback."""
    with pytest.raises(UsageError, match="RSA private key"):
        jwt_assertion("c", "u", "a", b"not a key", NOW)


@pytest.mark.parametrize(
    ("login_url", "audience"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://test.salesforce.com", "https://test.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
    ],
)
def test_jwt_audience(login_url: str, audience: str) -> None:
    """The JWT audience is the login host Salesforce expects for the kind of org."""
    assert jwt_audience(login_url) == audience


@responses.activate
def test_web_flow_pkce_and_code_exchange(http: requests.Session) -> None:
    """The authorize URL carries an S256 challenge and state; the exchange sends the verifier."""
    flow = start_web_flow(http, LOGIN, "client", "http://localhost:1717/OAuthCallback")
    query = parse_qs(urlsplit(flow.authorization_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"] == [flow.state]
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["api refresh_token"]
    body = token_answer(refresh=REFRESH) | {"scope": "refresh_token api web id"}
    responses.post(LOGIN_TOKEN, json=body)
    answer = finish_web_flow(flow, http, LOGIN, "the-code", CONNECTOR)
    assert answer.refresh_token == REFRESH
    assert answer.instance_url == INSTANCE
    form = form_of(responses.calls[0].request.body)
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == ["the-code"]
    assert form["client_id"] == ["client"]
    assert len(form["code_verifier"][0]) >= 43


@responses.activate
def test_web_flow_code_refused(http: requests.Session) -> None:
    """A refused code exchange is an AuthorizationError carrying Salesforce's error."""
    flow = start_web_flow(http, LOGIN, "client", "http://localhost:1717/OAuthCallback")
    responses.post(
        LOGIN_TOKEN, status=400, json={"error": "invalid_grant", "error_description": "bad code"}
    )
    with pytest.raises(AuthorizationError, match="invalid_grant: bad code"):
        finish_web_flow(flow, http, LOGIN, "the-code", CONNECTOR)


@responses.activate
def test_web_flow_server_error(http: requests.Session) -> None:
    """A 500 from the code exchange is an OAuthServerError."""
    flow = start_web_flow(http, LOGIN, "client", "http://localhost:1717/OAuthCallback")
    responses.post(LOGIN_TOKEN, status=500, body="oops")
    with pytest.raises(OAuthServerError):
        finish_web_flow(flow, http, LOGIN, "the-code", CONNECTOR)


@responses.activate
def test_revoke_posts_the_token(http: requests.Session) -> None:
    """Revoke POSTs token=... to /services/oauth2/revoke; 200 is success."""
    responses.post(INSTANCE + "/services/oauth2/revoke", status=200)
    revoke_token(http, INSTANCE, REFRESH, CONNECTOR)
    assert form_of(responses.calls[0].request.body) == {"token": [REFRESH]}


@responses.activate
def test_revoke_of_unknown_token_is_done(http: requests.Session) -> None:
    """invalid_token means the token is already gone: nothing to raise."""
    responses.post(
        INSTANCE + "/services/oauth2/revoke",
        status=400,
        body=json.dumps({"error": "invalid_token"}),
    )
    revoke_token(http, INSTANCE, REFRESH, CONNECTOR)


@responses.activate
def test_revoke_server_error(http: requests.Session) -> None:
    """A 503 from revoke is an OAuthServerError (the caller still deletes the entry)."""
    responses.post(INSTANCE + "/services/oauth2/revoke", status=503)
    with pytest.raises(OAuthServerError, match="503"):
        revoke_token(http, INSTANCE, REFRESH, CONNECTOR)


def test_pkce_verifiers_never_hold_a_tilde() -> None:
    """Verifiers avoid "~", which real orgs have refused, within RFC 7636 length and alphabet."""
    from sfsync.salesforce.oauth import SalesforcePkceClient  # noqa: PLC0415

    client = SalesforcePkceClient("client")
    verifiers = {client.create_code_verifier(43) for _ in range(2000)}
    assert len(verifiers) == 2000
    assert not any("~" in verifier for verifier in verifiers)
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")
    assert all(len(verifier) == 43 and set(verifier) <= allowed for verifier in verifiers)
