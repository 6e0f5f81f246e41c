"""Salesforce-shaped bodies: REST error lists, OAuth error objects, query results, records."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

from sfsync_emulator.errors import ApiError, OAuthError
from sfsync_emulator.resources import StaticResource

JSON_TYPE = "application/json;charset=UTF-8"
# [U] texts for injected 5xx answers: the codes are Salesforce's, the numbers are made up.
SERVER_ERRORS = {
    500: (
        "UNKNOWN_EXCEPTION",
        (
            "An unexpected error occurred. Please include this ErrorId if you"
            " contact support: 1795937181-14613 (-1318315052)"
        ),
    ),
    502: ("SERVER_UNAVAILABLE", "Bad Gateway"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable"),
    504: ("SERVER_UNAVAILABLE", "Gateway Timeout"),
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Return a JSON answer with Salesforce's content type."""
    return Response(json.dumps(body), status=status, content_type=JSON_TYPE, headers=headers)


def api_error(error: ApiError) -> Response:
    """Return a REST error as Salesforce sends it: a JSON list of `{message, errorCode}`."""
    entry: dict[str, Any] = {"message": error.message, "errorCode": error.error_code}
    if error.fields is not None:
        entry["fields"] = error.fields
    return json_response([entry], error.status)


def oauth_error(error: OAuthError) -> Response:
    """Return an OAuth error as Salesforce sends it: a JSON object `{error, error_description}`."""
    body = {"error": error.error, "error_description": error.description}
    return json_response(body, error.status)


def server_error(api: str, status: int) -> Response:
    """Return an injected 5xx answer shaped for the api kind that was called."""
    code, message = SERVER_ERRORS.get(status, SERVER_ERRORS[500])
    if api == "oauth":
        return oauth_error(OAuthError("unknown_error", "retry your request", status))
    if api == "soap":
        from sfsync_emulator.soap_xml import fault  # noqa: PLC0415 - avoids an import cycle

        return fault(f"sf:{code}", f"{code}: {message}", status)
    if api == "resource":
        return Response("Service Unavailable", status=status, content_type="text/html")
    return api_error(ApiError(status, code, message))


def record_url(version: str, record: StaticResource, *, tooling: bool) -> str:
    """Return the record's sobject URL, as `attributes.url` gives it."""
    base = f"/services/data/v{version}/{'tooling/' if tooling else ''}sobjects/StaticResource"
    return f"{base}/{record.id}"


def record_body(
    record: StaticResource, fields: list[str], version: str, *, tooling: bool
) -> dict[str, Any]:
    """Return a record with `attributes` then the asked fields, as queries and GETs return it."""
    url = record_url(version, record, tooling=tooling)
    body: dict[str, Any] = {"attributes": {"type": "StaticResource", "url": url}}
    for name in fields:
        body[name] = record.field_value(name, url + "/Body")
    return body


def query_body(records: list[dict[str, Any]], *, tooling: bool) -> dict[str, Any]:
    """Return a query answer: Tooling adds size, queryLocator and entityTypeName (FACTS 2a)."""
    if not tooling:
        return {"totalSize": len(records), "done": True, "records": records}
    return {
        "size": len(records),
        "totalSize": len(records),
        "done": True,
        "queryLocator": None,
        # [U] an empty Tooling result is assumed to carry a null entityTypeName.
        "entityTypeName": "StaticResource" if records else None,
        "records": records,
    }


def save_result(record_id: str, *, tooling: bool) -> dict[str, Any]:
    """Return a create answer: Tooling adds `warnings` (and, [U], `infos`)."""
    body: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
    if tooling:
        body["warnings"] = []
        body["infos"] = []
    return body
