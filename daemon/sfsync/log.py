"""structlog set-up: JSON lines (or console) with secrets redacted before anything is written.

structlog's own events and the standard library's records (APScheduler's job tracebacks,
urllib3, watchdog) go through one handler and one processor chain (structlog's
`ProcessorFormatter`), so a library's message is redacted and rendered like sfsync's own and
every line on the stream is one whole JSON object.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import Processor

from sfsync.redact import redact_value

# Other libraries speak at warning and above only: APScheduler alone says "Running job" at
# info several times a second.
FOREIGN_LEVEL = logging.WARNING

_handler: logging.Handler | None = None


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: replace every token-like value, at any depth, before rendering."""
    return {key: redact_value(key, value) for key, value in event.items()}


def configure_logging(
    log_format: Literal["json", "console"] = "json",
    stream: TextIO | None = None,
    level: int = logging.INFO,
    quiet_events: frozenset[str] = frozenset(),
) -> None:
    """Given the format and stream, route structlog and the standard library's logging there
    with redaction as the last step before rendering, so that no renderer ever sees a secret.
    Events named in `quiet_events` are not written (the CLI prints them its own way).

    Called again (a reload), it replaces the handler it installed before.
    """
    global _handler  # noqa: PLW0603 - one root handler per process, replaced on reload
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    formatter = structlog.stdlib.ProcessorFormatter(
        # Only for records of the standard library: structlog's own events ran the same steps
        # before they were handed over.
        foreign_pre_chain=[structlog.processors.add_log_level, _add_logger_name, timestamper],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_quiet_foreign_chatter)
    if quiet_events:
        handler.addFilter(
            lambda record: (
                not (isinstance(record.msg, dict) and record.msg.get("event") in quiet_events)
            )
        )
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    root.setLevel(level)
    _handler = handler
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        timestamper,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )


def _quiet_foreign_chatter(record: logging.LogRecord) -> bool:
    """Let structlog's events through (its wrapper filtered them by level already) and the
    standard library's records from FOREIGN_LEVEL up.
    """
    return isinstance(record.msg, dict) or record.levelno >= FOREIGN_LEVEL


def _add_logger_name(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Name the library a standard-library record came from (`logger`)."""
    record = event.get("_record")
    if isinstance(record, logging.LogRecord):
        event["logger"] = record.name
    return event
