"""The JWT bearer grant: an RS256 assertion signed with the key of the app's certificate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from sfsync_emulator.errors import OAuthError

if TYPE_CHECKING:
    from sfsync_emulator.context import Context
    from sfsync_emulator.models import ConnectedApp, Org, User
    from sfsync_emulator.tokens import Grant

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PUBLIC_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
# [U] FACTS 1d: the exact `exp` tolerance is unconfirmed; docs say "within 3 minutes".
MAX_EXP_AHEAD = 300.0
LEEWAY = 30.0


def _public_key(pem: str) -> Any:
    data = pem.encode()
    if b"CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return load_pem_public_key(data)


def redeem(ctx: Context, assertion: str) -> Grant:
    """Verify an assertion (iss, sub, aud, exp, RS256 signature) and issue an access token."""
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    app = ctx.backend.app_for(str(unverified.get("iss", "")), ctx.org)
    if app is None:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    claims = _verified_claims(ctx, app, assertion)
    with ctx.backend.lock:
        found = ctx.backend.find_user(str(claims["sub"]))
        if found is None or (ctx.org is not None and found[0] is not ctx.org):
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")  # [U]
        org, user = found
        _check_user(app, org, user)
        scope = " ".join(s for s in app.scope.split() if s != "refresh_token")
        return ctx.backend.tokens.issue(
            org.org_id, user.user_id, app.client_id, scope, with_refresh=False, via_jwt=True
        )


def _verified_claims(ctx: Context, app: ConnectedApp, assertion: str) -> dict[str, Any]:
    """Return the assertion's claims once its signature, audience and expiry hold."""
    if app.jwt_certificate_pem is None:
        raise OAuthError("invalid_grant", "invalid assertion")  # [U] no certificate uploaded
    audiences = [ctx.login_url, ctx.base_url, *ctx.instance_urls.values(), *PUBLIC_AUDIENCES]
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            _public_key(app.jwt_certificate_pem),
            algorithms=["RS256"],
            audience=audiences,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise OAuthError("invalid_grant", "expired authorization code") from None  # [U] text
    except jwt.InvalidAudienceError:
        raise OAuthError("invalid_grant", "audience is invalid") from None
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if float(claims["exp"]) > ctx.now() + MAX_EXP_AHEAD + LEEWAY:
        raise OAuthError("invalid_grant", "invalid assertion")  # [U] exp too far ahead
    return claims


def _check_user(app: ConnectedApp, org: Org, user: User) -> None:
    """Refuse a user whose org does not know the app, who is not pre-authorized, or blocked."""
    if not app.serves(org.org_id):
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if not app.preauthorizes(user.username):
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")  # FACTS 1b
    refusal = org.login_refusal(user.user_id)
    if refusal is not None:
        raise OAuthError("invalid_grant", refusal)
