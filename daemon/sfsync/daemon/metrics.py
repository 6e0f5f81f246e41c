"""The daemon's Prometheus metrics (SPEC section 10), in a registry of their own so tests and
reloads never collide with another registry's names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from sfsync.daemon.connector_series import ConnectorSeries
from sfsync.salesforce.limits import ApiUsage
from sfsync.sync.result import Result

# The results `sfsync_sync_total` counts (see `Result.counted`), each series made at start.
SYNC_RESULTS = tuple(result for result in Result if result.counted)

# Pushes take from a fraction of a second (Tooling PATCH) to minutes (a Metadata deploy).
_PUSH_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    """Every metric the daemon exposes, and the few ways the daemon records into them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # What comes before and after the connector series in the exposition: `render`
        # writes those itself (see `ConnectorSeries.exposition`) and lets prometheus_client
        # write the rest.
        self._before = CollectorRegistry()
        self._after = CollectorRegistry()
        for collector in (
            ProcessCollector(registry=self._before),
            PlatformCollector(registry=self._before),
            GCCollector(registry=self._before),
        ):
            self.registry.register(collector)
        # Every series labelled by connector, in one compact collector (registered here, so
        # the exposition keeps the SPEC's order).
        self._connectors = ConnectorSeries(
            self.registry,
            results=[result.value for result in SYNC_RESULTS],
            push_buckets=_PUSH_BUCKETS,
        )
        self.source_checks = Counter(
            "sfsync_source_checks",
            "Source checks.",
            ["system", "result"],
            registry=self.registry,
        )
        self._after.register(self.source_checks)

    def track_connector(self, connector: str) -> None:
        """Create every sync outcome series of `connector` at 0: a counter first seen at 1
        shows Prometheus no increase, so the first failure or refused package would not alert.
        """
        for result in SYNC_RESULTS:
            self._connectors.count_result(connector, result.value, 0.0)

    def record_result(
        self,
        connector: str,
        outcome: Result,
        *,
        seconds: float | None,
        size: int | None,
        now: float,
    ) -> None:
        """Record one connector's cycle result."""
        series = self._connectors
        if outcome.counted:
            series.count_result(connector, outcome.value)
        if outcome is Result.PUSHED:
            if seconds is not None:
                series.observe_push(connector, seconds)
            if size is not None:
                series.set_gauge(connector, "package_bytes", size)
        if outcome in {Result.PUSHED, Result.UNCHANGED}:
            series.set_gauge(connector, "last_success", now)
        if outcome is Result.NEEDS_AUTHORIZATION:
            series.set_gauge(connector, "authorized", 0)

    def record_request(self, connector: str, api: str, usage: ApiUsage | None) -> None:
        """Record one answer from Salesforce, and the org's API usage if it reported it."""
        self._connectors.count_request(connector, api)
        if usage is not None:
            self._connectors.set_gauge(connector, "api_usage", usage.ratio)

    def record_refresh(self, connector: str, result: str) -> None:
        """Record a token refresh: refreshed/rotated count as ok."""
        ok = result in {"refreshed", "rotated"}
        self._connectors.count_refresh(connector, "ok" if ok else "failed")
        if ok:
            self._connectors.set_gauge(connector, "authorized", 1)
        elif result == "needs_authorization":
            self._connectors.set_gauge(connector, "authorized", 0)

    def set_authorized(self, connector: str, *, authorized: bool) -> None:
        """Record whether a connector has a usable authorization."""
        self._connectors.set_gauge(connector, "authorized", 1 if authorized else 0)

    def record_source_check(self, system: str, result: str) -> None:
        """Record one look at a system's source: new, same, waiting or failed."""
        self.source_checks.labels(system, result).inc()

    def render(self) -> bytes:
        """Return the Prometheus text exposition of every metric: what `generate_latest` of
        the whole registry gives, with the connector series written in one pass.
        """
        return (
            generate_latest(self._before)
            + self._connectors.exposition()
            + generate_latest(self._after)
        )
