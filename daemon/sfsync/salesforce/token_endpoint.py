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

from sfsync.config.names import authorize_arguments
from sfsync.errors import AuthorizationError, OAuthServerError, SalesforceUnreachableError
from sfsync.salesforce.trust import endpoint_problem

TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a URL path, not a secret  # a URL path, not a password  # nosec B105
REVOKE_PATH = "/services/oauth2/revoke"
SERVER_ERROR = 500
EXPIRED_GRANT = "expired access/refresh token"
_APP_SWITCHES_ADVICE = (
    "the External Client App wants its consumer secret ('Require secret for Web Server Flow' "
    "and 'Require secret for Refresh Token Flow' under its OAuth security settings) or the "
    "secret given is wrong; run `sfsync authorize {arguments} --client-secret-stdin` with the "
    "app's consumer secret, or turn those switches off"
)
_CLIENT_ID_ADVICE = (
    "the org does not know this consumer key: set client_id for this environment to the "
    "consumer key of the org's own External Client App (a Local External Client App works only "
    "in the org that created it, and is not copied into sandboxes)"
)
# invalid_grant says several things (FACTS 1b); only an expired or revoked token is mended by
# authorizing again, the others by an admin in the org.
_GRANT_ADVICE = {
    "ip restricted": (
        "Salesforce refuses this box's IP address for the user: add it to the user profile's "
        "Login IP Ranges, or set the External Client App's IP Relaxation to 'Relax IP "
        "restrictions'"
    ),
    "inactive user": (
        "the Salesforce user is deactivated: reactivate it, or authorize as an active "
        "user with `sfsync authorize {arguments} --force`"
    ),
    "user hasn't approved this consumer": (
        "the user has not approved the app: pre-authorize it (the app's policies: 'Admin "
        "approved users are pre-authorized', plus the user's profile or permission set), or "
        "use the web flow (`sfsync authorize {arguments}`), which asks the user"
    ),
}


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
    """POST a form to an OAuth endpoint, never following a redirect (it would carry the form,
    secrets and all, to wherever it points).

    Raise OAuthServerError on a redirect, SalesforceUnreachableError if no answer comes.
    """
    try:
        response = http.post(
            url, data=dict(form), headers={"Accept": "application/json"}, allow_redirects=False
        )
    except requests.TooManyRedirects:
        response = None
    except requests.RequestException as error:
        raise SalesforceUnreachableError(
            f"{url}: no answer ({type(error).__name__}); check the network, the login URL and "
            "[oauth] ca_bundle"
        ) from None
    if response is None or response.is_redirect:
        raise OAuthServerError(
            f"{url}: answered with a redirect, which sfsync does not follow for token requests; "
            "check the login URL"
        )
    return response


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
    """Given an OAuth refusal of a grant for a connector, return the error to raise: its text
    names what the admin must change, which is a new authorization only for an expired or
    revoked token.
    """
    detail = f"{refusal.error}: {refusal.description}" if refusal.description else refusal.error
    advice = refusal_advice(refusal, connector)
    return AuthorizationError(f"{connector}: {what} refused by Salesforce ({detail}); {advice}")


def refusal_advice(refusal: OAuthRefusal, connector: str) -> str:
    """Given an OAuth refusal for a connector, return what to do about it."""
    arguments = authorize_arguments(connector)
    if refusal.error == "invalid_client":
        return _APP_SWITCHES_ADVICE.format(arguments=arguments)
    if refusal.error in {"invalid_client_id", "unauthorized_client"}:
        return _CLIENT_ID_ADVICE
    advice = _GRANT_ADVICE.get(refusal.description.strip().lower())
    if refusal.error == "invalid_grant" and advice is not None:
        return advice.format(arguments=arguments)
    return f"run `sfsync authorize {arguments}`"


def secret_required(error: AuthorizationError) -> bool:
    """Return whether a refused grant asked for the app's consumer secret (invalid_client)."""
    return "(invalid_client" in str(error) and "(invalid_client_id" not in str(error)


def parse_token_answer(
    response: requests.Response, connector: str, what: str, login_url: str
) -> TokenAnswer:
    """Given the token endpoint's answer to a grant and the login URL of the connector, return
    it parsed.

    Raise AuthorizationError if the grant was refused, OAuthServerError if the answer is a 5xx,
    malformed, or sends the token somewhere untrusted.
    """
    body = read_json(response, what)
    refusal = refusal_of(response, body)
    if refusal is not None:
        raise refusal_error(refusal, connector, what)
    return answer_from(body, response.url, what, login_url)


def answer_from(body: Mapping[str, Any], url: str, what: str, login_url: str) -> TokenAnswer:
    """Given a successful token answer's JSON and the connector's login URL, return it.

    Raise OAuthServerError if a key the rest of sfsync needs is missing, or if `instance_url`
    or `id` is not a host sfsync may send tokens to (trust.endpoint_problem).
    """
    try:
        access_token = str(body["access_token"])
        instance_url = str(body["instance_url"]).rstrip("/")
        identity_url = str(body["id"])
    except KeyError as error:
        raise OAuthServerError(
            f"{url}: {what} answer lacks {error.args[0]!r}; not a Salesforce token answer"
        ) from None
    for key, value in (("instance_url", instance_url), ("id", identity_url)):
        problem = endpoint_problem(value, login_url)
        if problem is not None:
            raise OAuthServerError(
                f"{url}: {what} answer names {key} {value[:200]!r}, which {problem}; refused "
                "before any token was sent there"
            )
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
    http: requests.Session,
    url: str,
    form: Mapping[str, str],
    *,
    connector: str,
    what: str,
    login_url: str,
) -> TokenAnswer:
    """POST a grant to a token endpoint and return the parsed answer (errors as above)."""
    return parse_token_answer(post_form(http, url, form), connector, what, login_url)
