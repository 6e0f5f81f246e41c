"""What every view needs to know about the server it runs in."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.wrappers import Request

from sfsync_emulator.errors import ApiError, invalid_session
from sfsync_emulator.faults import FaultBook
from sfsync_emulator.models import Backend, Org, RequestLog
from sfsync_emulator.tokens import AccessToken

API_SCOPES = frozenset({"api", "full"})


@dataclass
class Context:
    """One server's view of the emulator: its org (None on the login host) and shared state."""

    backend: Backend
    faults: FaultBook
    org: Org | None
    base_url: str
    login_url: str
    instance_urls: dict[str, str]
    stop: threading.Event
    log: RequestLog

    def now(self) -> float:
        """Return the emulator clock's time."""
        return self.backend.clock()


def bearer_token(request: Request) -> str:
    """Return the token of an `Authorization: Bearer` (or legacy `OAuth`) header, or ''."""
    header = request.headers.get("Authorization", "")
    for scheme in ("Bearer ", "OAuth "):
        if header.startswith(scheme):
            return header[len(scheme) :].strip()
    return ""


def session_for(ctx: Context, token: str) -> AccessToken | None:
    """Return the live access token if it belongs to this server's org, else None."""
    with ctx.backend.lock:
        entry = ctx.backend.tokens.active_access(token)
    if entry is None or ctx.org is None or entry.org_id != ctx.org.org_id:
        return None  # a token of another org is as unknown here as a made-up one
    return entry


def api_call(ctx: Context, token: str) -> AccessToken:
    """Authenticate one API call and charge it to the org's daily budget."""
    entry = session_for(ctx, token)
    if entry is None or ctx.org is None:
        raise invalid_session()
    if not API_SCOPES & set(entry.scope.split()):
        raise ApiError(
            401, "INVALID_SESSION_ID", "This session is not valid for use with the REST API"
        )
    with ctx.backend.lock:
        spent = ctx.org.spend_api_call()
    if not spent:
        raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    return entry
