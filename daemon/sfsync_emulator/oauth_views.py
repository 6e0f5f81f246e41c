"""OAuth endpoints as Salesforce answers them: authorize, token (four grants), revoke, identity."""

from __future__ import annotations

import base64
import binascii
import html
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from sfsync_emulator import ids, jwt_grant
from sfsync_emulator.context import Context, bearer_token
from sfsync_emulator.errors import OAuthError, expired_refresh_token
from sfsync_emulator.models import ConnectedApp, Org, User
from sfsync_emulator.responses import json_response
from sfsync_emulator.tokens import (
    CODE_LIFETIME,
    DEVICE_CODE_LIFETIME,
    AuthCode,
    DeviceCode,
    Grant,
    signature,
)

IDENTITY_SCOPES = frozenset({"id", "openid", "profile", "full"})
BAD_TOKEN = "Bad_OAuth_Token"  # noqa: S105 - an error text, not a secret; [U] identity/userinfo answer 403 with this text for a bad token  # Salesforce's error code  # nosec B105


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _error_page(ctx: Context, error: str, description: str) -> Response:
    # [U] Salesforce shows its RemoteAccessErrorPage instead of redirecting to an unchecked URI.
    params = {"error": error, "error_description": description}
    return redirect(_with_query(f"{ctx.base_url}/setup/secur/RemoteAccessErrorPage.apexp", params))


def error_page(_ctx: Context, request: Request) -> Response:
    """Show the error an authorize request ran into, as a small HTML page."""
    text = html.escape(f"{request.args.get('error')}: {request.args.get('error_description')}")
    return Response(f"<html><body><p>{text}</p></body></html>", content_type="text/html")


def authorize(ctx: Context, request: Request) -> Response:  # noqa: PLR0911 - one per error
    """Log the user in and consent at once, then redirect with a code (web server flow)."""
    params = request.values
    app = ctx.backend.app_for(params.get("client_id", ""), ctx.org)
    if app is None:
        return _error_page(ctx, "invalid_client_id", "client identifier invalid")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return _error_page(ctx, "redirect_uri_mismatch", "redirect_uri must match configuration")
    state = {"state": params["state"]} if "state" in params else {}
    if params.get("response_type") != "code":
        error = {
            "error": "unsupported_response_type",
            "error_description": "response type not supported",
        }
        return redirect(_with_query(redirect_uri, {**error, **state}))
    if params.get("code_challenge_method", "S256") != "S256":
        # [U] Salesforce documents no code_challenge_method; only S256 (or none) is accepted here.
        error = {"error": "invalid_request", "error_description": "invalid code_challenge_method"}
        return redirect(_with_query(redirect_uri, {**error, **state}))
    found = login_user(ctx, app, params.get("login_hint"))
    if found is None:
        return _error_page(ctx, "invalid_request", "no such user")
    org, user = found
    if not app.serves(org.org_id):
        # A Local External Client App of another org: this user's org does not know the key.
        return _error_page(ctx, "invalid_client_id", "client identifier invalid")
    if ctx.backend.consent != "approve":
        denied = {"error": "access_denied", "error_description": "end-user denied authorization"}
        return redirect(_with_query(redirect_uri, {**denied, **state}))
    code = ids.opaque(60)
    with ctx.backend.lock:
        ctx.backend.tokens.codes[code] = AuthCode(
            code,
            app.client_id,
            redirect_uri,
            org.org_id,
            user.user_id,
            params.get("scope") or app.scope,
            params.get("code_challenge") or None,
            ctx.now() + CODE_LIFETIME,
        )
    return redirect(_with_query(redirect_uri, {"code": code, **state}))


def login_user(
    ctx: Context, app: ConnectedApp | None, login_hint: str | None
) -> tuple[Org, User] | None:
    """Return who logs in: `Emulator.login_as`, else the `login_hint` user, else a default.

    The default is the app's org's default user for an org-local app on the login host, and
    otherwise the default user of this host's org (the login host: the first org).
    """
    orgs = [ctx.org] if ctx.org is not None else ctx.backend.orgs
    wanted = ctx.backend.login_as or login_hint
    for org in orgs if wanted else ():
        user = org.find_user(wanted or "")
        if user is not None:
            return org, user
    if ctx.backend.login_as:
        return None  # the person typed a username this login host does not know
    home = ctx.backend.org(app.org_id) if app is not None and app.org_id else None
    if home is not None and ctx.org is None:
        return home, home.default_user
    return (orgs[0], orgs[0].default_user) if orgs else None


def _client(ctx: Context, request: Request) -> tuple[ConnectedApp, str | None]:
    form = request.form
    client_id, secret = form.get("client_id"), form.get("client_secret")
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "invalid client credentials") from None
    app = ctx.backend.app_for(client_id or "", ctx.org)
    if app is None:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if secret and app.client_secret is not None and secret != app.client_secret:
        raise OAuthError("invalid_client", "invalid client credentials")
    return app, secret


def _check_secret(app: ConnectedApp, grant_type: str, secret: str | None) -> None:
    """Refuse a grant without the secret when the app's switch requires one (FACTS 1b)."""
    required = (grant_type == "authorization_code" and app.require_secret_web) or (
        grant_type == "refresh_token" and app.require_secret_refresh
    )
    if required and not secret:
        raise OAuthError("invalid_client", "invalid client credentials")


def _refuse_login(org: Org | None, user_id: str) -> None:
    """Raise `invalid_grant` when the org refuses this user's grants (IP range, inactive)."""
    refusal = org.login_refusal(user_id) if org is not None else None
    if refusal is not None:
        raise OAuthError("invalid_grant", refusal)


def token(ctx: Context, request: Request) -> Response:
    """Answer every grant Salesforce's token endpoint takes, and the device-flow start."""
    form = request.form
    if form.get("response_type") == "device_code":
        return _device_start(ctx, request)
    grant_type = form.get("grant_type", "")
    if grant_type == jwt_grant.GRANT_TYPE:
        return _token_answer(ctx, jwt_grant.redeem(ctx, form.get("assertion", "")))
    app, secret = _client(ctx, request)
    _check_secret(app, grant_type, secret)
    with ctx.backend.lock:
        if grant_type == "authorization_code":
            grant = _code_grant(ctx, app, form)
        elif grant_type == "refresh_token":
            grant = _refresh_grant(ctx, app, form.get("refresh_token", ""))
        elif grant_type == "device":
            grant = _device_poll(ctx, app, form.get("code", ""))
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
    return _token_answer(ctx, grant, app)


def _refresh_grant(ctx: Context, app: ConnectedApp, value: str) -> Grant:
    entry = ctx.backend.tokens.refresh.get(value)
    org = ctx.backend.org(entry.org_id) if entry is not None else None
    if ctx.org is not None and org is not ctx.org:
        raise expired_refresh_token()  # another org's My Domain does not know the token
    if entry is not None and not app.serves(entry.org_id):
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if entry is not None and entry.active and entry.client_id == app.client_id:
        _refuse_login(org, entry.user_id)
    rotate = org.rotate_refresh_tokens if org is not None else False
    return ctx.backend.tokens.use_refresh(value, app.client_id, rotate=rotate)


def _issue_approved(
    ctx: Context, app: ConnectedApp, org_id: str, user_id: str, scope: str
) -> Grant:
    """Issue tokens for a user's consent; past the org's limit the oldest approval dies."""
    if not app.serves(org_id):
        raise OAuthError("invalid_client_id", "client identifier invalid")
    _refuse_login(ctx.backend.org(org_id), user_id)
    tokens = ctx.backend.tokens
    grant = tokens.issue(
        org_id, user_id, app.client_id, scope, with_refresh=_offline(scope), approval=True
    )
    org = ctx.backend.org(org_id)
    if org is not None:
        tokens.enforce_approval_limit(user_id, app.client_id, org.approval_limit)
    return grant


def _code_grant(ctx: Context, app: ConnectedApp, form: MultiDict[str, str]) -> Grant:
    verifier = form.get("code_verifier")
    if ctx.backend.pkce_rejects_tilde and verifier and "~" in verifier:
        # Reported of real orgs (cognizant-ai-lab/nsflow#249), though RFC 7636 allows "~".
        raise OAuthError("invalid_grant", "invalid code verifier")
    entry = ctx.backend.tokens.redeem_code(
        form.get("code", ""), app.client_id, form.get("redirect_uri"), verifier, ctx.now()
    )
    if ctx.org is not None and entry.org_id != ctx.org.org_id:
        raise OAuthError("invalid_grant", "invalid authorization code")
    return _issue_approved(ctx, app, entry.org_id, entry.user_id, entry.scope)


def _offline(scope: str) -> bool:
    return bool({"refresh_token", "offline_access", "full"} & set(scope.split()))


def _token_answer(ctx: Context, grant: Grant, app: ConnectedApp | None = None) -> Response:
    access = grant.access
    issued_at = ids.epoch_ms(ctx.now())
    identity = f"{ctx.login_url}/id/{access.org_id}/{access.user_id}"
    if app is None:
        app = ctx.backend.apps[access.client_id]
    body = {"access_token": access.token}
    if grant.refresh is not None:
        body["refresh_token"] = grant.refresh.token
    body |= {
        "signature": signature(identity, issued_at, app.client_secret or ""),
        "scope": access.scope,
        "instance_url": ctx.instance_urls[access.org_id],
        "id": identity,
        "token_type": "Bearer",  # the token type  # nosec B105
        "issued_at": issued_at,
    }
    return json_response(body)


def _device_start(ctx: Context, request: Request) -> Response:
    app, _ = _client(ctx, request)
    if not app.device_flow:
        # [U] the error for a client without the device flow enabled was not found.
        raise OAuthError("invalid_request", "device flow is not enabled for this client")
    device = DeviceCode(
        ids.opaque(60),
        ids.user_code(),
        app.client_id,
        request.form.get("scope") or app.scope,
        ctx.backend.device_interval,
        ctx.now() + DEVICE_CODE_LIFETIME,
        org_id=ctx.org.org_id if ctx.org is not None else None,
    )
    with ctx.backend.lock:
        ctx.backend.tokens.devices[device.device_code] = device
    # FACTS 1c: exactly these four keys; no expires_in, no verification_uri_complete.
    return json_response(
        {
            "device_code": device.device_code,
            "user_code": device.user_code,
            "interval": device.interval,
            "verification_uri": f"{ctx.base_url}/setup/connect",
        }
    )


def _device_poll(ctx: Context, app: ConnectedApp, code: str) -> Grant:
    device = ctx.backend.tokens.devices.get(code)
    if device is None or device.client_id != app.client_id:
        raise OAuthError("invalid_grant", "invalid device code")  # [U] text
    now = ctx.now()
    if now > device.expires_at:
        raise OAuthError("expired_token", "device code expired")  # [U] Salesforce unconfirmed
    too_fast = device.last_poll is not None and now - device.last_poll < device.interval
    device.last_poll = now
    if too_fast:
        raise OAuthError("slow_down", "polling too frequently")  # [U] Salesforce unconfirmed
    if device.decision == "denied":
        raise OAuthError("access_denied", "end-user denied authorization")  # [U]
    if device.decision != "approved" or device.org_id is None or device.user_id is None:
        # FACTS 1c: HTTP 400, unlike GitHub's 200.
        raise OAuthError("authorization_pending", "authorization pending")
    del ctx.backend.tokens.devices[code]
    return _issue_approved(ctx, app, device.org_id, device.user_id, device.scope)


def device_page(ctx: Context, request: Request) -> Response:
    """Let a person approve a device code in a browser (`verification_uri`)."""
    if request.method == "POST":
        code = request.form.get("user_code", "")
        with ctx.backend.lock:
            device = ctx.backend.tokens.find_device(code)
            app = ctx.backend.apps.get(device.client_id) if device is not None else None
            found = login_user(ctx, app, None)
            if device is not None and found is not None:
                device.decision = "approved"
                device.org_id, device.user_id = found[0].org_id, found[1].user_id
        message = "Approved: you may close this page." if device else "Unknown code."
        return Response(f"<html><body><p>{message}</p></body></html>", content_type="text/html")
    form = (
        '<form method="post"><label>Code <input name="user_code"></label>'
        '<button type="submit">Connect</button></form>'
    )
    return Response(f"<html><body>{form}</body></html>", content_type="text/html")


def revoke(ctx: Context, request: Request) -> Response:
    """Revoke an access or refresh token: 200 and an empty body, or 400."""
    value = request.values.get("token", "")
    with ctx.backend.lock:
        revoked = ctx.backend.tokens.revoke(value)
    if not revoked:
        # A real answer (omniphx/forrest#213) is urlencoded, not JSON, as jsforce expects;
        # [U] its Content-Type was not recorded.
        body = (
            "error=unsupported_token_type"
            "&error_description=this%20token%20type%20is%20not%20supported"
        )
        return Response(body, status=400, content_type="application/x-www-form-urlencoded")
    return Response(b"", status=200)


def _caller(ctx: Context, request: Request) -> tuple[Org, User] | None:
    """Return who the caller's token belongs to, if it is live and may read identity."""
    value = bearer_token(request) or request.args.get("oauth_token", "")
    with ctx.backend.lock:
        entry = ctx.backend.tokens.active_access(value)
    if entry is None or (ctx.org is not None and entry.org_id != ctx.org.org_id):
        return None
    org = ctx.backend.org(entry.org_id)
    user = org.user(entry.user_id) if org is not None else None
    if org is None or user is None:
        return None
    if org.identity_needs_scope and not IDENTITY_SCOPES & set(entry.scope.split()):
        # FACTS 2d [C-weak]: the identity URL needs the id (or openid/profile) scope.
        # [U] the answer is the same 403 as for a bad token.
        return None
    return org, user


def userinfo(ctx: Context, request: Request) -> Response:
    """Answer the OpenID Connect userinfo endpoint for the caller's token."""
    found = _caller(ctx, request)
    if found is None:
        return Response(BAD_TOKEN, status=403, content_type="text/plain")
    org, user = found
    return json_response(
        {
            "sub": f"{ctx.login_url}/id/{org.org_id}/{user.user_id}",
            "user_id": user.user_id,
            "organization_id": org.org_id,
            "preferred_username": user.username,
            "nickname": user.username.split("@")[0],
            "name": user.display_name,
            "email": user.email,
            "email_verified": True,
            "zoneinfo": "Europe/London",
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_GB",
            "utcOffset": 0,
            "urls": _urls(ctx, org, user),
        }
    )


def identity(ctx: Context, request: Request, org_id: str, user_id: str) -> Response:
    """Answer the identity URL (`id` of the token answer) for the caller's token."""
    found = _caller(ctx, request)
    if found is None or found[0].org_id != org_id or found[1].user_id != user_id:
        return Response(BAD_TOKEN, status=403, content_type="text/plain")
    org, user = found
    return json_response(
        {
            "id": f"{ctx.login_url}/id/{org.org_id}/{user.user_id}",
            "asserted_user": True,
            "user_id": user.user_id,
            "organization_id": org.org_id,
            "username": user.username,
            "nick_name": user.username.split("@")[0],
            "display_name": user.display_name,
            "email": user.email,
            "email_verified": True,
            "status": {"created_date": None, "body": None},
            "urls": _urls(ctx, org, user),
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_GB",
            "utcOffset": 0,
            "last_modified_date": ids.sf_datetime(ctx.now()),
            "is_app_installed": True,
        }
    )


def _urls(ctx: Context, org: Org, user: User) -> dict[str, str]:
    base = ctx.instance_urls[org.org_id]
    return {
        "enterprise": f"{base}/services/Soap/c/{{version}}/{org.org_id[:15]}",
        "metadata": f"{base}/services/Soap/m/{{version}}/{org.org_id[:15]}",
        "partner": f"{base}/services/Soap/u/{{version}}/{org.org_id[:15]}",
        "rest": f"{base}/services/data/v{{version}}/",
        "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
        "query": f"{base}/services/data/v{{version}}/query/",
        "tooling_rest": f"{base}/services/data/v{{version}}/tooling/",
        "profile": f"{base}/{user.user_id}",
        "custom_domain": base,
    }
