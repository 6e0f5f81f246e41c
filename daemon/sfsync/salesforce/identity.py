"""Who a connector is authorized as: the user and org behind its identity URL (FACTS 1e)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sfsync.errors import ApiError
from sfsync.salesforce.session import ConnectorSession


@dataclass(frozen=True)
class Identity:
    """The user and org a connector's token belongs to."""

    user_id: str
    org_id: str
    username: str | None
    display_name: str | None


def identity_from(body: Any, url: str) -> Identity:
    """Given the identity service's JSON, return the Identity; raise ApiError if malformed."""
    if not isinstance(body, dict) or "user_id" not in body or "organization_id" not in body:
        raise ApiError(f"{url}: the identity answer lacks user_id or organization_id")
    return Identity(
        user_id=str(body["user_id"]),
        org_id=str(body["organization_id"]),
        username=body.get("username") or body.get("preferred_username"),
        display_name=body.get("display_name") or body.get("name"),
    )


def fetch_identity(session: ConnectorSession) -> Identity:
    """Given a connector's session, return its user and org from the identity URL.

    Raise AuthorizationError if it must be re-authorized, ApiError if the answer is an error.
    """
    url = session.record.identity_url
    response = session.request("GET", url, headers={"Accept": "application/json"})
    if not response.ok:
        raise ApiError(f"{session.connector}: GET {url} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = None
    return identity_from(body, url)
