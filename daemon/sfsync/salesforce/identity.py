"""Who a connector is authorized as: the user and org behind its identity URL (FACTS 1e)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

from sfsync.errors import ApiError, AuthorizationError, OAuthServerError

# https://login.salesforce.com/id/<org id>/<user id> (FACTS 1e); 15 or 18 characters each.
_IDENTITY_PATH = re.compile(
    r"^/id/(00D[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?)/(005[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?)/?$"
)
_OK = 200
_REFUSED = frozenset({401, 403})


def ids_from_identity_url(url: str) -> tuple[str, str]:
    """Given the `id` of a token answer, return (org id, user id) from its path: no call, and
    no `id` scope needed. Raise OAuthServerError if it is not an identity URL.
    """
    match = _IDENTITY_PATH.match(urlsplit(url).path)
    if match is None:
        raise OAuthServerError(
            f"the token answer's id {url[:200]!r} is not an identity URL (/id/ORG/USER)"
        )
    return match.group(1), match.group(2)


def fetch_username(
    http: requests.Session, instance_url: str, api_version: str, user_id: str, access_token: str
) -> str:
    """Given a fresh access token and its user id, return the user's Username through the REST
    API: this proves the token works for the API (the `api` scope) before it is kept.

    Raise AuthorizationError if the API refuses the token, ApiError for any other failure.
    """
    url = f"{instance_url}/services/data/v{api_version}/sobjects/User/{user_id}"
    try:
        response = http.get(
            url,
            params={"fields": "Username"},
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            allow_redirects=False,
        )
    except requests.RequestException as error:
        raise ApiError(f"GET {url} got no answer ({type(error).__name__})") from None
    if response.status_code in _REFUSED:
        raise AuthorizationError(
            f"{instance_url} refused the new token for the REST API (HTTP "
            f"{response.status_code}); give the External Client App the 'api' scope (Manage "
            "user data via APIs) and the user the 'API Enabled' permission"
        )
    try:
        body = response.json() if response.status_code == _OK else None
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body.get("Username"):
        raise ApiError(f"GET {url} answered HTTP {response.status_code} without a Username")
    return str(body["Username"])
