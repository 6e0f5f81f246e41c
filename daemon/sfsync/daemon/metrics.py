"""The daemon's Prometheus metrics (SPEC section 10), in a registry of their own so tests and
reloads never collide with another registry's names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

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
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.sync_total = Counter(
            "sfsync_sync",
            "Connector sync outcomes.",
            ["connector", "result"],
            registry=self.registry,
        )
        self.push_seconds = Histogram(
            "sfsync_push_seconds",
            "Time to make a build live on a connector.",
            ["connector"],
            buckets=_PUSH_BUCKETS,
            registry=self.registry,
        )
        self.package_bytes = Gauge(
            "sfsync_package_bytes",
            "Size of the build last pushed to a connector.",
            ["connector"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            "sfsync_last_success_timestamp_seconds",
            "When a connector last pushed or confirmed its content (Unix time).",
            ["connector"],
            registry=self.registry,
        )
        self.authorized = Gauge(
            "sfsync_connector_authorized",
            "1 if the connector has a usable authorization.",
            ["connector"],
            registry=self.registry,
        )
        self.api_requests = Counter(
            "sfsync_api_requests",
            "HTTP requests sent to Salesforce.",
            ["connector", "api"],
            registry=self.registry,
        )
        self.api_usage = Gauge(
            "sfsync_api_usage_ratio",
            "Share of the org's daily API allowance spent.",
            ["connector"],
            registry=self.registry,
        )
        self.token_refresh = Counter(
            "sfsync_token_refresh",
            "Access-token refreshes.",
            ["connector", "result"],
            registry=self.registry,
        )
        self.source_checks = Counter(
            "sfsync_source_checks",
            "Source checks.",
            ["system", "result"],
            registry=self.registry,
        )

    def track_connector(self, connector: str) -> None:
        """Create every sync outcome series of `connector` at 0: a counter first seen at 1
        shows Prometheus no increase, so the first failure or refused package would not alert.
        """
        for result in SYNC_RESULTS:
            self.sync_total.labels(connector, result.value)

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
        if outcome.counted:
            self.sync_total.labels(connector, outcome.value).inc()
        if outcome is Result.PUSHED:
            if seconds is not None:
                self.push_seconds.labels(connector).observe(seconds)
            if size is not None:
                self.package_bytes.labels(connector).set(size)
        if outcome in {Result.PUSHED, Result.UNCHANGED}:
            self.last_success.labels(connector).set(now)
        if outcome is Result.NEEDS_AUTHORIZATION:
            self.authorized.labels(connector).set(0)

    def record_request(self, connector: str, api: str, usage: ApiUsage | None) -> None:
        """Record one answer from Salesforce, and the org's API usage if it reported it."""
        self.api_requests.labels(connector, api).inc()
        if usage is not None:
            self.api_usage.labels(connector).set(usage.ratio)

    def record_refresh(self, connector: str, result: str) -> None:
        """Record a token refresh: refreshed/rotated count as ok."""
        ok = result in {"refreshed", "rotated"}
        self.token_refresh.labels(connector, "ok" if ok else "failed").inc()
        if ok:
            self.authorized.labels(connector).set(1)
        elif result == "needs_authorization":
            self.authorized.labels(connector).set(0)

    def set_authorized(self, connector: str, *, authorized: bool) -> None:
        """Record whether a connector has a usable authorization."""
        self.authorized.labels(connector).set(1 if authorized else 0)

    def record_source_check(self, system: str, result: str) -> None:
        """Record one look at a system's source: new, same, waiting or failed."""
        self.source_checks.labels(system, result).inc()

    def render(self) -> bytes:
        """Return the Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
