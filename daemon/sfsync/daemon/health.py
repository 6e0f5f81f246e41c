"""What `/healthz` answers (SPEC section 10): 200 when the scheduler runs and every connector
is authorized and not failing, else 503; the same JSON body either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sfsync.redact import redact_text
from sfsync.sync.result import Result

HEALTHY = 200
UNHEALTHY = 503


@dataclass(frozen=True)
class ConnectorHealth:
    """One connector as the health check sees it."""

    authorized: bool
    last_result: Result | None
    last_error: str | None


def health(
    *, scheduler_running: bool, connectors: Mapping[str, ConnectorHealth]
) -> tuple[int, dict[str, Any]]:
    """Given whether the scheduler runs and each connector's health, return the HTTP status and
    the JSON body (every error redacted: it may quote an answer from Salesforce).
    """
    connectors = {
        name: replace(connector, last_error=redact_text(connector.last_error))
        if connector.last_error
        else connector
        for name, connector in connectors.items()
    }
    problems = []
    for name, connector in sorted(connectors.items()):
        if not connector.authorized:
            problems.append(f"{name}: needs authorization")
        elif connector.last_result is not None and not connector.last_result.healthy:
            detail = f": {connector.last_error}" if connector.last_error else ""
            problems.append(f"{name}: {connector.last_result}{detail}")
    if not scheduler_running:
        problems.insert(0, "scheduler is not running")
    body: dict[str, Any] = {
        "status": "ok" if not problems else "unhealthy",
        "scheduler_running": scheduler_running,
        "problems": problems,
        "connectors": {
            name: {
                "authorized": connector.authorized,
                "last_result": connector.last_result,
                "last_error": connector.last_error,
            }
            for name, connector in sorted(connectors.items())
        },
    }
    return (HEALTHY if not problems else UNHEALTHY), body
