"""Authorization codes, device codes, access and refresh tokens: how Salesforce issues them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from sfsync_emulator import ids
from sfsync_emulator.errors import OAuthError, expired_refresh_token

CODE_LIFETIME = 15 * 60.0
DEVICE_CODE_LIFETIME = 10 * 60.0  # [U] Salesforce's device-code lifetime is not documented.


@dataclass
class AccessToken:
    """An access token and what it belongs to."""

    token: str
    org_id: str
    user_id: str
    client_id: str
    scope: str
    family: str | None
    via_jwt: bool
    active: bool = True


@dataclass
class RefreshToken:
    """A refresh token; `family` ties it to the tokens that rotation derives from it."""

    token: str
    org_id: str
    user_id: str
    client_id: str
    scope: str
    family: str
    active: bool = True
    approval: bool = False  # minted by a user's consent (code or device flow): counts (FACTS 1b)


@dataclass
class AuthCode:
    """A web-server-flow authorization code, single use."""

    code: str
    client_id: str
    redirect_uri: str
    org_id: str
    user_id: str
    scope: str
    code_challenge: str | None
    expires_at: float


@dataclass
class DeviceCode:
    """A device-flow request, waiting for the user to approve or deny it."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    interval: int
    expires_at: float
    last_poll: float | None = None
    decision: str = "pending"
    org_id: str | None = None
    user_id: str | None = None


@dataclass
class Grant:
    """What one successful token request issued."""

    access: AccessToken
    refresh: RefreshToken | None


def pkce_challenge(verifier: str) -> str:
    """Return base64url(sha256(verifier)) without padding, as PKCE S256 defines it."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def signature(identity_url: str, issued_at: str, secret: str) -> str:
    """Return the token response `signature`: base64 HMAC-SHA256 of id + issued_at."""
    mac = hmac.new(secret.encode(), (identity_url + issued_at).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


@dataclass
class TokenBook:
    """Every code and token the emulator has issued; callers hold the emulator lock."""

    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    devices: dict[str, DeviceCode] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)

    def issue(
        self,
        org_id: str,
        user_id: str,
        client_id: str,
        scope: str,
        *,
        with_refresh: bool,
        via_jwt: bool = False,
        approval: bool = False,
    ) -> Grant:
        """Mint an access token (and a refresh token if asked) for a user of an org.

        `approval`: the refresh token stands for one consent of the user to the app, and
        counts against the org's approval limit.
        """
        refresh = None
        if with_refresh:
            token = ids.refresh_token()
            refresh = RefreshToken(
                token, org_id, user_id, client_id, scope, family=token, approval=approval
            )
            self.refresh[token] = refresh
            self.issued.append(token)
        access = self._mint_access(org_id, user_id, client_id, scope, refresh, via_jwt=via_jwt)
        return Grant(access, refresh)

    def redeem_code(
        self, code: str, client_id: str, redirect_uri: str | None, verifier: str | None, now: float
    ) -> AuthCode:
        """Consume an authorization code, checking client, redirect and PKCE as Salesforce does."""
        entry = self.codes.pop(code, None)
        if entry is None or entry.client_id != client_id:
            raise OAuthError("invalid_grant", "invalid authorization code")
        if now > entry.expires_at:
            raise OAuthError("invalid_grant", "expired authorization code")
        if redirect_uri != entry.redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        if entry.code_challenge is not None:
            # FACTS 1a: a missing verifier is invalid_grant, a wrong one invalid_request.
            if not verifier:
                raise OAuthError("invalid_grant", "invalid code verifier")  # [U] description text
            if pkce_challenge(verifier) != entry.code_challenge:
                raise OAuthError("invalid_request", "invalid code verifier")  # [U] description text
        return entry

    def use_refresh(self, token: str, client_id: str, *, rotate: bool) -> Grant:
        """Answer a refresh grant; with rotation, issue a new refresh token and retire this one."""
        entry = self.refresh.get(token)
        if entry is None or entry.client_id != client_id:
            raise expired_refresh_token()
        if not entry.active:
            # Reusing a rotated-out token kills the whole family (help: refresh token rotation).
            self.kill_family(entry.family)
            raise expired_refresh_token()
        current = entry
        if rotate:
            entry.active = False
            fresh = ids.refresh_token()
            current = RefreshToken(
                fresh,
                entry.org_id,
                entry.user_id,
                client_id,
                entry.scope,
                entry.family,
                approval=entry.approval,
            )
            self.refresh[fresh] = current
            self.issued.append(fresh)
        access = self._mint_access(
            entry.org_id, entry.user_id, client_id, entry.scope, current, via_jwt=False
        )
        return Grant(access, current if rotate else None)

    def kill_family(self, family: str) -> None:
        """Deactivate every refresh and access token of one refresh-token family."""
        for refresh in self.refresh.values():
            if refresh.family == family:
                refresh.active = False
        for access in self.access.values():
            if access.family == family:
                access.active = False

    def approvals(self, user_id: str, client_id: str | None) -> list[str]:
        """Return the live approval families of a user through one app (None: any), oldest
        first."""
        live = {
            refresh.family
            for refresh in self.refresh.values()
            if refresh.approval
            and refresh.active
            and refresh.user_id == user_id
            and client_id in (None, refresh.client_id)
        }
        # A family is named after its first refresh token, so dict order is approval order.
        return [token for token in self.refresh if token in live]

    def enforce_approval_limit(self, user_id: str, client_id: str, limit: int | None) -> None:
        """Revoke the oldest approvals beyond `limit` (FACTS 1b: the sixth revokes the first)."""
        if limit is None:
            return
        families = self.approvals(user_id, client_id)
        for family in families[: max(len(families) - limit, 0)]:
            self.kill_family(family)

    def forget_org(self, org_id: str) -> None:
        """Kill every token, code and device request of an org id (a refreshed sandbox's old id)."""
        self.expire_sessions({org_id})
        self.revoke_refresh_tokens({org_id})
        self.codes = {k: v for k, v in self.codes.items() if v.org_id != org_id}
        self.devices = {k: v for k, v in self.devices.items() if v.org_id != org_id}

    def revoke(self, token: str) -> bool:
        """Revoke an access or refresh token (a refresh token takes its access tokens along)."""
        if token in self.refresh:
            self.kill_family(self.refresh[token].family)
            return True
        access = self.access.get(token)
        if access is None or not access.active:
            return False
        access.active = False
        return True

    def active_access(self, token: str) -> AccessToken | None:
        """Return the live access token with this value, or None."""
        entry = self.access.get(token)
        return entry if entry is not None and entry.active else None

    def expire_sessions(self, org_ids: set[str] | None) -> None:
        """Expire every access token (of these orgs, or everywhere)."""
        for access in self.access.values():
            if org_ids is None or access.org_id in org_ids:
                access.active = False

    def revoke_refresh_tokens(self, org_ids: set[str] | None) -> None:
        """Revoke every refresh token (of these orgs, or everywhere); access tokens live on."""
        for refresh in self.refresh.values():
            if org_ids is None or refresh.org_id in org_ids:
                refresh.active = False

    def find_device(self, user_code: str) -> DeviceCode | None:
        """Return the device request with this user code, or None."""
        for device in self.devices.values():
            if device.user_code == user_code.upper():
                return device
        return None

    def _mint_access(
        self,
        org_id: str,
        user_id: str,
        client_id: str,
        scope: str,
        refresh: RefreshToken | None,
        *,
        via_jwt: bool,
    ) -> AccessToken:
        family = refresh.family if refresh is not None else None
        access = AccessToken(
            ids.access_token(org_id), org_id, user_id, client_id, scope, family, via_jwt
        )
        self.access[access.token] = access
        self.issued.append(access.token)
        return access
