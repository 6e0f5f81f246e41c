"""How loud each connector result is in the log (SPEC section 10): what needs an operator is
an error, what heals by itself a warning, what went as planned info.
"""

from __future__ import annotations

import logging

# A push that failed, a refused (invalid) package, a connector that needs authorization.
_ERROR = frozenset({"failed", "invalid", "needs_authorization"})
# A deferral (API usage above the ceiling), a retry (another process held the connector, so
# the push is tried again), a source that cannot be read yet (nothing published or a publish
# still settling).
_WARNING = frozenset({"deferred", "busy", "waiting"})
# Pushed, unchanged, gated, paused by an operator, a deploy still running, a dry run's plan.
_INFO = frozenset({"pushed", "unchanged", "gated", "paused", "deploy_pending", "planned"})


def level_of(result: str) -> int:
    """Given a connector result (`ConnectorResult.result`), return its `logging` level; a
    result this table does not know is a warning, so that it is never silent.
    """
    if result in _ERROR:
        return logging.ERROR
    if result in _INFO:
        return logging.INFO
    return logging.WARNING
