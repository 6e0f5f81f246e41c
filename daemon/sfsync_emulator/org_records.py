"""The User and Organization records: the two non-StaticResource reads sfsync makes.

sfsync reads `sobjects/User/<id>?fields=Username` right after authorizing, to learn whose
token it holds, and `SELECT NamespacePrefix FROM Organization` to learn the org's namespace.
"""

from __future__ import annotations

import re
from typing import Any

from sfsync_emulator.errors import ApiError, not_found
from sfsync_emulator.models import Org, User

USER_FIELDS = {"id": "Id", "username": "Username", "name": "Name", "email": "Email"}
ORGANIZATION_FIELDS = {
    "id": "Id",
    "name": "Name",
    "namespaceprefix": "NamespacePrefix",
    "issandbox": "IsSandbox",
}
_ORGANIZATION_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+Organization(?:\s+LIMIT\s+\d+)?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def _no_such_column(raw: str, entity: str) -> ApiError:
    return ApiError(
        400,
        "INVALID_FIELD",
        f"No such column '{raw}' on entity '{entity}'. If you are attempting to use a custom"
        " field, be sure to append the '__c' after the custom field name. Please reference"
        " your WSDL or the describe call for the appropriate names.",
    )


def _fields(raw: str, known: dict[str, str], entity: str) -> list[str]:
    names = []
    for part in raw.split(","):
        name = known.get(part.strip().lower())
        if name is None:
            raise _no_such_column(part.strip(), entity)
        names.append(name)
    return names


def user_body(org: Org, record_id: str, asked: str | None, version: str) -> dict[str, Any]:
    """Return a User record as `GET sobjects/User/<id>` does (NOT_FOUND for another org's)."""
    user = next((u for u in org.users if record_id in (u.user_id, u.user_id[:15])), None)
    if user is None:
        raise not_found()
    names = _fields(asked, USER_FIELDS, "User") if asked else list(USER_FIELDS.values())
    values = _user_values(user)
    url = f"/services/data/v{version}/sobjects/User/{user.user_id}"
    body: dict[str, Any] = {"attributes": {"type": "User", "url": url}}
    body.update({name: values[name] for name in names})
    # A GET with `fields` still carries the Id (as Salesforce's record GET does).
    body["Id"] = user.user_id
    return body


def _user_values(user: User) -> dict[str, Any]:
    return {
        "Id": user.user_id,
        "Username": user.username,
        "Name": user.display_name,
        "Email": user.email,
    }


def organization_query(org: Org, query: str, version: str) -> dict[str, Any] | None:
    """Answer `SELECT ... FROM Organization`, or return None for any other query."""
    match = _ORGANIZATION_QUERY.match(query)
    if match is None:
        return None
    names = _fields(match["fields"], ORGANIZATION_FIELDS, "Organization")
    values = {
        "Id": org.org_id,
        "Name": org.name,
        "NamespacePrefix": org.namespace,
        "IsSandbox": not org.production,
    }
    url = f"/services/data/v{version}/sobjects/Organization/{org.org_id}"
    record: dict[str, Any] = {"attributes": {"type": "Organization", "url": url}}
    record.update({name: values[name] for name in names})
    return {"totalSize": 1, "done": True, "records": [record]}
