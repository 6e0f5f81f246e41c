"""REST and Tooling sobjects for StaticResource, their SOQL subset, and /limits."""

from __future__ import annotations

from typing import Any

import orjson
from werkzeug.wrappers import Request, Response

from sfsync_emulator import org_records, soql
from sfsync_emulator.context import Context, api_call, bearer_token
from sfsync_emulator.errors import ApiError, not_found
from sfsync_emulator.models import DEFAULT_API_VERSIONS, Org
from sfsync_emulator.resources import READABLE, decode_fields
from sfsync_emulator.responses import json_response, query_body, record_body, save_result

RESOURCE = "StaticResource"
SPRING_26 = 66  # FACTS 2d: Summer '25 = 64.0, Winter '26 = 65.0, Spring '26 = 66.0


def _org(ctx: Context) -> Org:
    if ctx.org is None:
        raise not_found()
    return ctx.org


def _method_not_allowed(method: str, allowed: str) -> ApiError:
    return ApiError(
        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}"
    )


def _json_body(request: Request) -> Any:
    try:
        # orjson: a multi-megabyte Body parses about five times faster than with json; it is
        # as strict, and stricter on NaN and lone surrogates, as Salesforce's parser is [U].
        return orjson.loads(request.get_data() or b"null")
    except ValueError as error:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {error}") from None


def versions(ctx: Context, request: Request, **_route: object) -> Response:
    """Answer `GET /services/data/`: every version served, oldest first; no token needed."""
    if request.method not in ("GET", "HEAD"):
        raise _method_not_allowed(request.method, "GET,HEAD")
    served = ctx.org.api_versions if ctx.org is not None else DEFAULT_API_VERSIONS
    return json_response(
        [
            {"label": release_label(v), "url": f"/services/data/v{v}", "version": v}
            for v in sorted(served, key=_version_key)
        ]
    )


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (0,)


def release_label(version: str) -> str:
    """Return the release name of an API version, like "Spring '26" for 66.0.

    FACTS 2d names 64.0 to 68.0; the others follow the same three-releases-a-year cadence
    (Spring, Summer, Winter; 31.0 was Summer '14) [U]. Anything else gets a generic label.
    """
    major, _, minor = version.partition(".")
    if not major.isdigit() or minor not in ("0", ""):
        return f"Version {version}"
    steps_back = SPRING_26 - int(major)
    year = 26 - steps_back // 3
    season = ("Spring", "Winter", "Summer")[steps_back % 3]
    return f"{season} '{(year - 1 if season == 'Summer' else year) % 100:02d}"


def limits(ctx: Context, request: Request, **_route: object) -> Response:
    """Answer `/limits` with the DailyApiRequests the budget allows."""
    api_call(ctx, bearer_token(request))
    org = _org(ctx)
    daily = {"Max": org.api_budget, "Remaining": org.api_budget - org.api_used}
    return json_response({"DailyApiRequests": daily})


def query(ctx: Context, request: Request, version: str, *, tooling: bool) -> Response:
    """Answer a SOQL query over StaticResource (REST and Tooling shapes differ)."""
    api_call(ctx, bearer_token(request))
    if request.method != "GET":
        raise _method_not_allowed(request.method, "GET,HEAD")
    text = request.args.get("q", "")
    with ctx.backend.lock:
        organization = org_records.organization_query(_org(ctx), text, version)
    if organization is not None:
        return json_response(organization)
    parsed = soql.parse(text)
    with ctx.backend.lock:
        records = [r for r in _org(ctx).resources.all() if parsed.matches(r)]
        if parsed.limit is not None:
            records = records[: parsed.limit]
        bodies = [record_body(r, parsed.fields, version, tooling=tooling) for r in records]
    return json_response(query_body(bodies, tooling=tooling))


def collection(
    ctx: Context, request: Request, sobject: str, *, tooling: bool, **_route: object
) -> Response:
    """Create a StaticResource (POST) on the REST or Tooling sobject URL."""
    api_call(ctx, bearer_token(request))
    _check_sobject(sobject)
    if request.method != "POST":
        raise _method_not_allowed(request.method, "GET,POST,HEAD")
    fields = decode_fields(_json_body(request))
    with ctx.backend.lock:
        org = _org(ctx)
        user = _user_id(ctx, request)
        record = org.resources.create(fields, ctx.now(), user)
    return json_response(save_result(record.id, tooling=tooling), 201)


def record(
    ctx: Context, request: Request, version: str, sobject: str, record_id: str, *, tooling: bool
) -> Response:
    """Read (GET), update (PATCH) or delete (DELETE) one StaticResource."""
    api_call(ctx, bearer_token(request))
    if sobject == "User" and request.method in ("GET", "HEAD"):
        with ctx.backend.lock:
            body = org_records.user_body(_org(ctx), record_id, request.args.get("fields"), version)
        return json_response(body)
    _check_sobject(sobject)
    # Read and decode a PATCH body before taking the emulator-wide lock: a multi-megabyte
    # upload must not hold up every other org's requests while it arrives and is decoded.
    fields = decode_fields(_json_body(request)) if request.method == "PATCH" else None
    with ctx.backend.lock:
        resources = _org(ctx).resources
        if request.method in ("GET", "HEAD"):
            found = resources.get(record_id)
            asked = request.args.get("fields")
            names = (
                [soql.field_name(n.strip()) for n in asked.split(",")] if asked else list(READABLE)
            )
            return json_response(record_body(found, names, version, tooling=tooling))
        if fields is not None:
            resources.update(record_id, fields, ctx.now())
            return Response(status=204)
        if request.method == "DELETE":
            resources.delete(record_id)
            return Response(status=204)
    raise _method_not_allowed(request.method, "GET,PATCH,DELETE,HEAD")


def field(
    ctx: Context, request: Request, *, sobject: str, record_id: str, field: str, **_route: object
) -> Response:
    """Answer `.../StaticResource/{Id}/Body` with the raw body bytes."""
    api_call(ctx, bearer_token(request))
    _check_sobject(sobject)
    if field != "Body":
        raise not_found()
    with ctx.backend.lock:
        found = _org(ctx).resources.get(record_id)
        body, content_type = found.body, found.content_type
    return Response(body, content_type=content_type)


def _check_sobject(sobject: str) -> None:
    if sobject != RESOURCE:
        raise not_found()


def _user_id(ctx: Context, request: Request) -> str:
    entry = ctx.backend.tokens.active_access(bearer_token(request))
    return entry.user_id if entry is not None else ""
