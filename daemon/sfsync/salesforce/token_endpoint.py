"""POSTs to /services/oauth2/token and the one reading of its answers (FACTS section 1).

Salesforce answers OAuth errors as a JSON object `{"error", "error_description"}` with HTTP 400;
a token answer carries no `expires_in`, and carries a `refresh_token` only on the first grant
or when refresh-token rotation is on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from sfsync.errors import AuthorizationError, OAuthServerError, SalesforceUnreachableError

TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a URL path, not a secret  # a URL path, not a password  # nosec B105
REVOKE_PATH = "/services/oauth2/revoke"
SERVER_ERROR = 500
# Errors that mean the grant (refresh token, code, assertion) is gone or wrong: only a new
# authorization helps.
_CLIENT_ERRORS = frozenset({"invalid_client", "invalid_client_id", "unauthorized_client"})


@dataclass(frozen=True)
class TokenAnswer:
    """A successful token answer: the access token, where the org lives, and maybe a new
    refresh token.
    """

    access_token: str
    instance_url: str
    identity_url: str
    refresh_token: str | None
    issued_at: str | None

    def __repr__(self) -> str:
        return (
            f"TokenAnswer(instance_url={self.instance_url!r}, identity_url={self.identity_url!r})"
        )


@dataclass(frozen=True)
class OAuthRefusal:
    """An OAuth error answer: its `error` code and description."""

    status: int
    error: str
    description: str


def token_url(base_url: str) -> str:
    """Given a login or instance URL, return its token endpoint."""
    return base_url.rstrip("/") + TOKEN_PATH


def post_form(http: requests.Session, url: str, form: Mapping[str, str]) -> requests.Response:
    """POST a form to an OAuth endpoint; raise SalesforceUnreachableError if no answer comes."""
    try:
        return http.post(url, data=dict(form), headers={"Accept": "application/json"})
    except requests.RequestException as error:
        raise SalesforceUnreachableError(
            f"{url}: no answer ({type(error).__name__}); check the network, the login URL and "
            "[oauth] ca_bundle"
        ) from None


def read_json(response: requests.Response, what: str) -> dict[str, Any]:
    """Given an OAuth endpoint's answer, return its JSON object.

    Raise OAuthServerError for a 5xx or an answer that is not a JSON object.
    """
    if response.status_code >= SERVER_ERROR:
        raise OAuthServerError(
            f"{response.url}: {what} failed with HTTP {response.status_code}; "
            "Salesforce may be down or in maintenance, try again later"
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise OAuthServerError(
            f"{response.url}: {what} answered HTTP {response.status_code} with a body that is not "
            f"a JSON object ({response.headers.get('Content-Type', 'no content type')}); is the "
            "login URL a Salesforce host?"
        )
    return body


def refusal_of(response: requests.Response, body: Mapping[str, Any]) -> OAuthRefusal | None:
    """Return the OAuth error in an answer, or None if it is a success."""
    if response.ok and "error" not in body:
        return None
    return OAuthRefusal(
        response.status_code,
        str(body.get("error") or f"http_{response.status_code}"),
        str(body.get("error_description") or ""),
    )


def refusal_error(refusal: OAuthRefusal, connector: str, what: str) -> AuthorizationError:
    """Given an OAuth refusal of a grant for a connector, return the error to raise."""
    detail = f"{refusal.error}: {refusal.description}" if refusal.description else refusal.error
    if refusal.error in _CLIENT_ERRORS:
        advice = "check [oauth] client_id against the External Client App's consumer key"
    else:
        advice = f"run `sfsync authorize {authorize_arguments(connector)}`"
    return AuthorizationError(f"{connector}: {what} refused by Salesforce ({detail}); {advice}")


def authorize_arguments(connector: str) -> str:
    """Given "system/env", return the `sfsync authorize` options that select it."""
    system, _, environment = connector.partition("/")
    return f"--env {environment} --system {system}"


def parse_token_answer(response: requests.Response, connector: str, what: str) -> TokenAnswer:
    """Given the token endpoint's answer to a grant, return it parsed.

    Raise AuthorizationError if the grant was refused, OAuthServerError if the answer is a 5xx
    or malformed.
    """
    body = read_json(response, what)
    refusal = refusal_of(response, body)
    if refusal is not None:
        raise refusal_error(refusal, connector, what)
    return answer_from(body, response.url, what)


def answer_from(body: Mapping[str, Any], url: str, what: str) -> TokenAnswer:
    """Given a successful token answer's JSON, return it; raise OAuthServerError if a key the
    rest of sfsync needs is missing.
    """
    try:
        access_token = str(body["access_token"])
        instance_url = str(body["instance_url"]).rstrip("/")
        identity_url = str(body["id"])
    except KeyError as error:
        raise OAuthServerError(
            f"{url}: {what} answer lacks {error.args[0]!r}; not a Salesforce token answer"
        ) from None
    refresh_token = body.get("refresh_token")
    issued_at = body.get("issued_at")
    return TokenAnswer(
        access_token=access_token,
        instance_url=instance_url,
        identity_url=identity_url,
        refresh_token=str(refresh_token) if refresh_token else None,
        issued_at=str(issued_at) if issued_at is not None else None,
    )


def request_token(
    http: requests.Session, url: str, form: Mapping[str, str], connector: str, what: str
) -> TokenAnswer:
    """POST a grant to a token endpoint and return the parsed answer (errors as above)."""
    return parse_token_answer(post_form(http, url, form), connector, what)
