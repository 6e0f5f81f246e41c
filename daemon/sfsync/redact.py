"""Recognising secrets so that nothing token-like ever reaches a log line (SPEC section 6)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# Keys whose values are secret whatever they look like.
_SECRET_KEY = re.compile(
    r"(token|secret|password|passphrase|authorization|assertion|code_verifier|session_id|sid"
    r"|device_code|auth_code|authorization_code)$",
    re.IGNORECASE,
)
# Values that look like Salesforce credentials wherever they appear: access tokens / session
# ids ("00D<org id>!<base64ish>"), refresh tokens ("5Aep861..."), bearer headers, and
# token-bearing query parameters.
_SECRET_VALUE = re.compile(
    r"00D[0-9A-Za-z]{12,15}![0-9A-Za-z._\-]{20,}"
    r"|5Aep8[0-9A-Za-z._\-]{20,}"
    r"|(?i:bearer)\s+[0-9A-Za-z._\-!~+/=]{16,}"
    r"|(?<=[?&#])(?:access_token|refresh_token|code|token|assertion)=[^&\s\"']+"
    r"|\"(?:access_token|refresh_token|assertion|code|device_code|code_verifier)\"\s*:\s*\"[^\"]*\""
)


def redact_text(text: str) -> str:
    """Given any text, return it with every token-like value replaced."""
    return _SECRET_VALUE.sub(_replace, text)


def _replace(match: re.Match[str]) -> str:
    found = match.group(0)
    if found.startswith('"'):
        return found.split(":", 1)[0] + f': "{REDACTED}"'
    if "=" in found and not found.lower().startswith("bearer"):
        return found.split("=", 1)[0] + "=" + REDACTED
    if found.lower().startswith("bearer"):
        return "Bearer " + REDACTED
    return REDACTED


def redact_value(key: str, value: Any) -> Any:
    """Given a key and its value from a log event, return the value safe to log."""
    if isinstance(key, str) and _SECRET_KEY.search(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {inner: redact_value(str(inner), item) for inner, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value("", item) for item in value]
    return value
