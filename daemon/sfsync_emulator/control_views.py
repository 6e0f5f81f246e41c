"""The loopback-only control endpoint: faults, the request log, device approvals and apps."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from werkzeug.wrappers import Request, Response

from sfsync_emulator.context import Context
from sfsync_emulator.faults import Faults
from sfsync_emulator.models import DEFAULT_SCOPE, ConnectedApp, new_connected_app
from sfsync_emulator.oauth_views import login_user
from sfsync_emulator.responses import json_response

LOOPBACK = ("127.0.0.1", "::1")


def _refuse(request: Request) -> Response | None:
    if request.remote_addr not in LOOPBACK:
        return Response("loopback only", status=403, content_type="text/plain")
    return None


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def faults(ctx: Context, request: Request) -> Response:
    """Arm (POST) or clear (DELETE) faults; org ports scope to their org unless scope is all."""
    refused = _refuse(request)
    if refused:
        return refused
    body = _body(request)
    org_id = ctx.org.org_id if ctx.org is not None and body.get("scope") != "all" else None
    target = Faults(ctx.faults, org_id)
    if request.method == "DELETE":
        target.clear()
        return json_response({"ok": True})
    if request.method != "POST":
        return Response("use POST or DELETE", status=405, content_type="text/plain")
    try:
        _arm(target, body)
    except (KeyError, TypeError, ValueError) as error:
        return json_response({"ok": False, "error": f"bad fault request: {error}"}, 400)
    return json_response({"ok": True})


def _arm(target: Faults, body: dict[str, Any]) -> None:
    kind = body["kind"]
    where = {"api": body.get("api"), "path_prefix": body.get("path_prefix")}
    count = int(body.get("n", 1))
    simple = {
        "expire_sessions": target.expire_sessions,
        "revoke_refresh_tokens": target.revoke_refresh_tokens,
        "exhaust_api_budget": target.exhaust_api_budget,
        "clear": target.clear,
    }
    if kind in simple:
        simple[kind]()
    elif kind == "latency":
        target.latency(float(body["seconds"]), **where)
    elif kind == "error":
        target.fail_next(count, int(body.get("status", 503)), **where)
    elif kind == "reset":
        target.reset_next(count, **where)
    elif kind == "hang":
        target.hang_next(count, float(body.get("seconds", 5.0)), **where)
    elif kind == "random":
        target.random(
            float(body["rate"]),
            list(body.get("kinds", ["error", "reset"])),
            body.get("seed"),
            status=int(body.get("status", 503)),
            seconds=float(body.get("seconds", 1.0)),
            **where,
        )
    else:
        raise ValueError(f"unknown kind {kind!r}")


def requests(ctx: Context, request: Request) -> Response:
    """List the requests this server answered, oldest first."""
    refused = _refuse(request)
    if refused:
        return refused
    entries = [asdict(entry) for entry in ctx.log.entries()]
    return json_response({"requests": entries, "count": len(entries)})


def device(ctx: Context, request: Request) -> Response:
    """Approve or deny a device-flow user code (`{"user_code": ..., "decision": "approve"}`)."""
    refused = _refuse(request)
    if refused:
        return refused
    body = _body(request)
    with ctx.backend.lock:
        found = ctx.backend.tokens.find_device(str(body.get("user_code", "")))
        app = ctx.backend.apps.get(found.client_id) if found is not None else None
        login = login_user(ctx, app, None)
        if found is None or login is None:
            return json_response({"ok": False, "error": "unknown user_code"}, 404)
        found.decision = "denied" if body.get("decision") == "deny" else "approved"
        found.org_id, found.user_id = login[0].org_id, login[1].user_id
    return json_response({"ok": True})


def clients(ctx: Context, request: Request) -> Response:
    """Register a client app (`POST /_emulator/clients`, JSON), e.g. to try the JWT flow
    against `sfsync demo`'s emulator from outside. The body, every key but `client_id`
    optional::

        {
          "client_id": "3MVG9...",                  # the consumer key
          "org": "demo",                            # org name or id; absent: every org knows it
          "client_secret": "s3cret",                # (or "secret")
          "redirect_uris": ["http://localhost:1717/OauthRedirect"],
          "jwt_certificate_pem": "-----BEGIN CERTIFICATE-----\n...",  # the JWT flow's cert
          "preauthorized": ["admin@demo.example.com"],  # JWT users; absent: every user
          "require_secret_web": false,
          "require_secret_refresh": false,
          "device_flow": true,
          "scope": "refresh_token api web"
        }

    Answers `{"ok": true, "client_id": ..., "org_id": ...}` (`org_id` null for a global app),
    or 400 `{"ok": false, "error": ...}`. Registering a `client_id` again replaces the app.
    """
    refused = _refuse(request)
    if refused:
        return refused
    if request.method != "POST":
        return Response("use POST", status=405, content_type="text/plain")
    body = _body(request)
    try:
        app = _app_from(ctx, body)
    except (KeyError, TypeError, ValueError) as error:
        return json_response({"ok": False, "error": f"bad client request: {error}"}, 400)
    ctx.backend.register(app)
    return json_response({"ok": True, "client_id": app.client_id, "org_id": app.org_id})


def _app_from(ctx: Context, body: dict[str, Any]) -> ConnectedApp:
    client_id = body["client_id"]
    if not isinstance(client_id, str) or not client_id:
        raise ValueError("client_id must be a non-empty string")
    org_id = None
    if body.get("org") is not None:
        org = ctx.backend.org_named(str(body["org"])) or ctx.backend.org(str(body["org"]))
        if org is None:
            raise ValueError(f"no org named {body['org']!r}")
        org_id = org.org_id
    preauthorized = body.get("preauthorized")
    secret = body.get("client_secret", body.get("secret"))
    pem = body.get("jwt_certificate_pem")
    return new_connected_app(
        client_id,
        [str(uri) for uri in body.get("redirect_uris") or ()],
        str(pem) if pem else None,
        bool(body.get("device_flow", True)),
        client_secret=str(secret) if secret else None,
        scope=str(body.get("scope") or DEFAULT_SCOPE),
        org_id=org_id,
        require_secret_web=bool(body.get("require_secret_web", False)),
        require_secret_refresh=bool(body.get("require_secret_refresh", False)),
        preauthorized=None if preauthorized is None else [str(u) for u in preauthorized],
    )
