"""Recognising secrets so that nothing token-like ever reaches a log line, an error line, the
state store or `/healthz` (SPEC section 6).

A secret shows up in more shapes than a bare token: URL-encoded (`%21` for the `!` of an access
token), as a Python repr (`{'access_token': '...'}`, `refresh_token='...'`), as JSON inside a
JSON string (`{\\"refresh_token\\": \\"...\\"}`) and as a form or query parameter. Each of
them is recognised by its shape or by the name it is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# Names whose values are secret whatever they look like. `code` only as a whole name: an
# `exit_code` or `status_code` is not a secret, an OAuth `code` is.
_HIDDEN_NAMES = (
    r"access_token|refresh_token|id_token|token|assertion|client_secret|code_verifier"
    r"|device_code|auth_code|authorization_code|code|session_id|sid|password|passphrase"
)
_SECRET_KEY = re.compile(
    r"(token|secret|password|passphrase|authorization|assertion|code_verifier|session_id|sid"
    r"|device_code|auth_code|authorization_code)$|^code$",
    re.IGNORECASE,
)
# An exclamation mark, as is or percent-encoded once or more (`%21`, `%2521`).
_BANG = r"(?:!|%(?:25)*21)"
# A quote, as is or escaped once or more (`"`, `\"`, `\\\"`), named so the closing one matches.
_QUOTE = r"\\*[\"']"
_NAMED_VALUE = re.compile(
    # "name": "value" in JSON, escaped JSON or a Python repr (the value up to the same quote).
    rf"(?P<open>{_QUOTE})(?P<name>{_HIDDEN_NAMES})(?P=open)\s*:\s*"
    rf"(?P<quote>{_QUOTE})(?P<value>.*?)(?P=quote)"
    # name=value in a query, a form body or a repr; `=` may be percent-encoded.
    rf"|(?:(?<![0-9A-Za-z_%])|(?<=%3[Ff])|(?<=%26))(?P<param>{_HIDDEN_NAMES})(?P<equals>=|%3[Dd])"
    r"(?P<param_value>'[^']*'|\"[^\"]*\"|(?:(?!%26)[^&\s\"',;)}\]])+)",
    re.IGNORECASE | re.DOTALL,
)
# Values that look like Salesforce credentials wherever they appear: access tokens / session
# ids ("00D<org id>!<base64ish>"), refresh tokens ("5Aep861..."), bearer headers.
_SECRET_VALUE = re.compile(
    rf"00D[0-9A-Za-z]{{12,15}}{_BANG}[0-9A-Za-z._\-]{{20,}}"
    r"|5Aep8[0-9A-Za-z._\-]{20,}"
    r"|(?i:bearer)\s+[0-9A-Za-z._\-!~+/=%]{16,}"
)


def redact_text(text: str) -> str:
    """Given any text, return it with every token-like value replaced."""
    return _SECRET_VALUE.sub(_replace_value, _NAMED_VALUE.sub(_replace_named, text))


def _replace_named(match: re.Match[str]) -> str:
    if match.group("name") is not None:
        return (
            f"{match.group('open')}{match.group('name')}{match.group('open')}: "
            f"{match.group('quote')}{REDACTED}{match.group('quote')}"
        )
    return f"{match.group('param')}{match.group('equals')}{REDACTED}"


def _replace_value(match: re.Match[str]) -> str:
    if match.group(0).lower().startswith("bearer"):
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
