"""Salesforce-looking ids, tokens and timestamps."""

from __future__ import annotations

import datetime as dt
import secrets
import string

_ID_BODY = string.ascii_uppercase + string.digits
_SUFFIX = string.ascii_uppercase + "012345"
_TOKEN_CHARS = string.ascii_letters + string.digits + "._"


def case_safe(id15: str) -> str:
    """Given a 15-character Salesforce id, return its 18-character case-safe form."""
    suffix = ""
    for chunk_start in range(0, 15, 5):
        chunk = id15[chunk_start : chunk_start + 5]
        bits = sum(1 << index for index, char in enumerate(chunk) if char.isupper())
        suffix += _SUFFIX[bits]
    return id15 + suffix


def new_id(prefix: str) -> str:
    """Return a fresh 18-character id with the key prefix (`081` StaticResource, `0Af` deploy)."""
    body = "".join(secrets.choice(_ID_BODY) for _ in range(8))
    return case_safe(f"{prefix}5g0000{body}"[:15])


def access_token(org_id: str) -> str:
    """Return an access token shaped like Salesforce's: `<15-char org id>!AQ<random>`."""
    return f"{org_id[:15]}!AQ" + "".join(secrets.choice(_TOKEN_CHARS) for _ in range(94))


def refresh_token() -> str:
    """Return a refresh token shaped like Salesforce's (`5Aep861...`)."""
    return "5Aep861" + "".join(secrets.choice(_TOKEN_CHARS) for _ in range(80))


def opaque(length: int = 40) -> str:
    """Return a random url-safe string for authorization and device codes."""
    return secrets.token_urlsafe(length)[:length]


def user_code() -> str:
    """Return an 8-character device-flow user code like `08T3AY9D`."""
    return "".join(secrets.choice(_ID_BODY) for _ in range(8))


def sf_datetime(epoch: float) -> str:
    """Format a time as the REST API does: `2026-11-21T10:00:00.000+0000`."""
    moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def soap_datetime(epoch: float) -> str:
    """Format a time as the SOAP API does: `2026-11-21T10:00:00.000Z`."""
    return sf_datetime(epoch).removesuffix("+0000") + "Z"


def epoch_ms(epoch: float) -> str:
    """Format a time as `issued_at` is sent: milliseconds since the epoch, as a string."""
    return str(int(epoch * 1000))
