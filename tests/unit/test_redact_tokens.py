"""Token-like values never reach a log line, whatever shape they come in."""

from __future__ import annotations

import io
import json
import logging

import structlog

from sfsync.log import configure_logging
from sfsync.redact import redact_text, redact_value

ACCESS = "00D5g000004XyZa!AQ" + "a1B2c3D4._" * 9
REFRESH = "5Aep861" + "zZ9yY8xX7." * 8


def test_access_and_refresh_token_shapes() -> None:
    """Salesforce-shaped access and refresh tokens are replaced inside any text."""
    text = f"refresh with {REFRESH} gave {ACCESS} ok"
    assert redact_text(text) == "refresh with [redacted] gave [redacted] ok"


def test_bearer_header_and_query_parameters() -> None:
    """A bearer header and token-bearing query parameters are replaced."""
    assert redact_text("Authorization: Bearer abcdefghijklmnopqrstuvwxyz") == (
        "Authorization: Bearer [redacted]"
    )
    assert redact_text("GET /cb?code=xyz&state=s") == "GET /cb?code=[redacted]&state=s"


def test_json_bodies_with_any_token_format() -> None:
    """A token answer logged as JSON text loses its token values, whatever they look like."""
    body = json.dumps({"access_token": "opaque-1", "refresh_token": "opaque-2", "id": "x"})
    redacted = redact_text(body)
    assert "opaque-1" not in redacted
    assert "opaque-2" not in redacted
    assert '"id": "x"' in redacted


def test_secret_keys_at_any_depth() -> None:
    """Values under secret-sounding keys are replaced, however deep."""
    event = {"answer": {"refresh_token": "x", "device_code": "y", "nested": [{"token": "z"}]}}
    assert redact_value("event", event) == {
        "answer": {
            "refresh_token": "[redacted]",
            "device_code": "[redacted]",
            "nested": [{"token": "[redacted]"}],
        }
    }


def test_configured_logging_redacts_before_rendering() -> None:
    """A log event carrying tokens is written without them, in JSON and console formats."""
    for log_format in ("json", "console"):
        stream = io.StringIO()
        configure_logging(log_format, stream=stream, level=logging.DEBUG)
        structlog.get_logger("t").info(
            "refreshed", detail=f"new token {ACCESS}", refresh_token=REFRESH, url="/x?token=abc"
        )
        written = stream.getvalue()
        assert ACCESS not in written
        assert REFRESH not in written
        assert "abc" not in written
        assert "refreshed" in written
