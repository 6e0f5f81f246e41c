"""structlog set-up: JSON lines (or console) with secrets redacted before anything is written."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog

from sfsync.redact import redact_value


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: replace every token-like value, at any depth, before rendering."""
    return {key: redact_value(key, value) for key, value in event.items()}


def configure_logging(
    log_format: Literal["json", "console"] = "json",
    stream: TextIO | None = None,
    level: int = logging.INFO,
) -> None:
    """Given the format and stream, route structlog there with redaction as the last step
    before rendering, so that no renderer ever sees a secret.
    """
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
