"""What the daemon's operators see: each connector's last result and authorization (for /healthz
and systemd's status line) and the metrics, fed by the cycle's results, the sessions' token
refreshes and every answer an org gives. Observers only watch: nothing here changes what a
cycle decides.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
import structlog

from sfsync.clock import epoch_seconds
from sfsync.config import Connector, LoadedConfig
from sfsync.daemon.health import ConnectorHealth, health
from sfsync.daemon.metrics import Metrics
from sfsync.errors import SfsyncError
from sfsync.salesforce.api_kind import api_of
from sfsync.salesforce.limits import parse_limit_info
from sfsync.state.store import StateStore
from sfsync.sync.cycle import ConnectorResult
from sfsync.sync.plan import authorization_usable
from sfsync.sync.result import Result
from sfsync.tokens.store import TokenStore

log = structlog.get_logger("sfsync.daemon")


class Observers:
    """The health map and the metrics of one loaded config's connectors."""

    def __init__(
        self,
        loaded: LoadedConfig,
        metrics: Metrics,
        *,
        epoch: Callable[[], float] = epoch_seconds,
    ) -> None:
        self.loaded = loaded
        self.metrics = metrics
        self._epoch = epoch
        self._last: dict[str, ConnectorResult] = {}
        self._authorized: dict[str, bool] = {}
        self._last_push: tuple[str, float] | None = None

    def is_authorized(self, connector: str) -> bool:
        """Given a connector, return whether its authorization was usable when last seen."""
        return self._authorized.get(connector, False)

    def on_result(self, result: ConnectorResult) -> None:
        """Given a connector's result, note it for health, then count it in the metrics."""
        # Health state first, metrics second: whoever sees the gauge move must find /healthz
        # already agreeing with it.
        self._last[result.connector] = result
        if result.outcome is Result.PUSHED:
            self._authorized[result.connector] = True
        elif result.outcome is Result.NEEDS_AUTHORIZATION:
            self._authorized[result.connector] = False
        now = self._epoch()
        self.metrics.record_result(
            result.connector, result.outcome, seconds=result.seconds, size=result.size, now=now
        )
        if result.outcome is Result.PUSHED:
            self._last_push = (result.connector, now)

    def on_refresh(self, connector: str, result: str) -> None:
        """Given a token refresh's result, note the authorization, then count the refresh."""
        # Same order as on_result: the health map moves before the gauge does.
        if result in {"refreshed", "rotated"}:
            self._authorized[connector] = True
        elif result == "needs_authorization":
            self._authorized[connector] = False
        self.metrics.record_refresh(connector, result)

    def on_response(self, connector: str, response: requests.Response) -> None:
        """Given any answer a connector's org gave, count the request and the usage it reports."""
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        self.metrics.record_request(connector, api_of(response.url), usage)

    def refresh_authorized(
        self, connector: Connector, tokens: TokenStore, store: StateStore
    ) -> None:
        """Given a connector, the token store and the state, note whether its authorization
        is usable now (a keyring that cannot be read counts as no authorization).
        """
        try:
            record = tokens.get(connector.name)
        except SfsyncError as error:
            log.warning("cannot read the keyring", connector=connector.name, error=str(error))
            record = None
        state = store.connector(connector.name)
        usable = authorization_usable(state, record.issued_at if record else None)
        self._authorized[connector.name] = usable
        self.metrics.set_authorized(connector.name, authorized=usable)

    def health(self, *, scheduler_running: bool) -> tuple[int, dict[str, Any]]:
        """Given whether the scheduler runs, return the /healthz status and body."""
        connectors = {}
        for connector in self.loaded.connectors:
            last = self._last.get(connector.name)
            connectors[connector.name] = ConnectorHealth(
                authorized=self._authorized.get(connector.name, False),
                last_result=last.outcome if last else None,
                last_error=last.detail if last and last.outcome.failing else None,
            )
        return health(scheduler_running=scheduler_running, connectors=connectors)

    def summary(self) -> str:
        """Return the one-line status systemd shows."""
        total = len(self.loaded.connectors)
        failing = sum(1 for result in self._last.values() if result.outcome.failing)
        unauthorized = sum(1 for ok in self._authorized.values() if not ok)
        text = f"{total} connectors, {failing} failing, {unauthorized} need authorization"
        if self._last_push is not None:
            connector, when = self._last_push
            stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            text += f"; last push {connector} at {stamp}"
        return text
