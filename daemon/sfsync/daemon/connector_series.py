"""The metrics labelled by connector (SPEC section 10), kept compactly: one row of floats per
connector instead of prometheus_client's objects per series.

prometheus_client keeps each labelled series as an object with its own lock and a locked
value per sample (a histogram: 14 of them); at 10,000 connectors that was about 12 KB per
connector, most of the daemon's memory per connector. Here each connector has one
`array('d')` and one lock guards them all (a record is a few float updates). The exposition
is the one prometheus_client gives: the same families, samples, labels and `_created` series.

A slot holding NaN is a series not created yet: it is left out of the exposition, as
prometheus_client leaves out a child never asked for.
"""

from __future__ import annotations

import math
import threading
import time
from array import array
from collections.abc import Iterator, Sequence

from prometheus_client import metrics as prometheus_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry
from prometheus_client.utils import floatToGoString

ABSENT = math.nan
# The `api` labels `api_of` gives; another label gets its own series outside the rows.
APIS = ("tooling", "metadata", "rest", "oauth", "other")
REFRESH_RESULTS = ("ok", "failed")
GAUGES = ("package_bytes", "last_success", "authorized", "api_usage")


class _Layout:
    """Where each series lives in a connector's row."""

    def __init__(self, results: Sequence[str], buckets: Sequence[float]) -> None:
        self.results = tuple(results)
        self.buckets = (*buckets, math.inf)
        # The `le` labels as prometheus_client writes them ("1.0", "+Inf").
        self.le = tuple(floatToGoString(bound) for bound in self.buckets)  # type: ignore[no-untyped-call]
        slot = 0
        # Counters take two slots (value, created), gauges one.
        self.result_slot = {result: slot + 2 * index for index, result in enumerate(results)}
        slot += 2 * len(results)
        self.api_slot = {api: slot + 2 * index for index, api in enumerate(APIS)}
        slot += 2 * len(APIS)
        self.refresh_slot = {result: slot + 2 * i for i, result in enumerate(REFRESH_RESULTS)}
        slot += 2 * len(REFRESH_RESULTS)
        self.gauge_slot = {name: slot + index for index, name in enumerate(GAUGES)}
        slot += len(GAUGES)
        # The histogram: a count per bucket (not cumulative), the sum, then created.
        self.push_buckets = slot
        self.push_sum = slot + len(self.buckets)
        self.push_created = self.push_sum + 1
        self.size = self.push_created + 1


class ConnectorSeries:
    """Every per-connector series of one registry; a prometheus_client collector."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        results: Sequence[str],
        push_buckets: Sequence[float],
    ) -> None:
        self._layout = _Layout(results, push_buckets)
        self._lock = threading.Lock()
        self._rows: dict[str, array[float]] = {}
        # Requests under an `api` label outside APIS: (connector, api) -> [value, created].
        self._other_apis: dict[tuple[str, str], list[float]] = {}
        registry.register(self)

    def count_result(self, connector: str, result: str, amount: float = 1.0) -> None:
        """Add `amount` to the connector's sync outcome counter (0 creates it)."""
        with self._lock:
            self._add(self._row(connector), self._layout.result_slot[result], amount)

    def count_request(self, connector: str, api: str) -> None:
        """Count one request to `api`."""
        with self._lock:
            slot = self._layout.api_slot.get(api)
            if slot is not None:
                self._add(self._row(connector), slot, 1.0)
                return
            series = self._other_apis.setdefault((connector, api), [0.0, time.time()])
            series[0] += 1.0

    def count_refresh(self, connector: str, result: str) -> None:
        """Count one token refresh under "ok" or "failed"."""
        with self._lock:
            self._add(self._row(connector), self._layout.refresh_slot[result], 1.0)

    def set_gauge(self, connector: str, name: str, value: float) -> None:
        """Set one of GAUGES for the connector."""
        with self._lock:
            self._row(connector)[self._layout.gauge_slot[name]] = value

    def observe_push(self, connector: str, seconds: float) -> None:
        """Observe one push time in the connector's histogram."""
        layout = self._layout
        with self._lock:
            row = self._row(connector)
            if math.isnan(row[layout.push_created]):
                row[layout.push_created] = time.time()
                for slot in range(layout.push_buckets, layout.push_sum + 1):
                    row[slot] = 0.0
            bucket = next(i for i, bound in enumerate(layout.buckets) if seconds <= bound)
            row[layout.push_buckets + bucket] += 1.0
            row[layout.push_sum] += seconds

    def describe(self) -> list[Metric]:
        """Return the families without samples, so the registry knows their names."""
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        """Return every family with its samples, as prometheus_client would expose them."""
        with self._lock:
            rows = {connector: array("d", row) for connector, row in self._rows.items()}
            other_apis = {key: list(value) for key, value in self._other_apis.items()}
        sync, pushes, size, success, authorized, requests, usage, refresh = self._families()
        layout = self._layout
        created = prometheus_metrics._use_created  # noqa: SLF001 - prometheus_client's switch
        for connector, row in rows.items():
            labels = {"connector": connector}
            for result, slot in layout.result_slot.items():
                _counter(sync, row, slot, {**labels, "result": result}, created=created)
            _histogram(pushes, row, layout, labels, created=created)
            for family, gauge in (
                (size, "package_bytes"),
                (success, "last_success"),
                (authorized, "authorized"),
                (usage, "api_usage"),
            ):
                value = row[layout.gauge_slot[gauge]]
                if not math.isnan(value):
                    family.add_sample(family.name, labels, value)
            for api, slot in layout.api_slot.items():
                _counter(requests, row, slot, {**labels, "api": api}, created=created)
            for result, slot in layout.refresh_slot.items():
                _counter(refresh, row, slot, {**labels, "result": result}, created=created)
        for (connector, api), (value, since) in other_apis.items():
            pair = array("d", (value, since))
            _counter(requests, pair, 0, {"connector": connector, "api": api}, created=created)
        yield from (sync, pushes, size, success, authorized, requests, usage, refresh)

    def _row(self, connector: str) -> array[float]:
        row = self._rows.get(connector)
        if row is None:
            row = self._rows[connector] = array("d", [ABSENT]) * self._layout.size
        return row

    @staticmethod
    def _add(row: array[float], slot: int, amount: float) -> None:
        if math.isnan(row[slot + 1]):
            row[slot], row[slot + 1] = 0.0, time.time()
        row[slot] += amount

    @staticmethod
    def _families() -> tuple[Metric, ...]:
        return (
            Metric("sfsync_sync", "Connector sync outcomes.", "counter"),
            Metric("sfsync_push_seconds", "Time to make a build live on a connector.", "histogram"),
            Metric(
                "sfsync_package_bytes", "Size of the build last pushed to a connector.", "gauge"
            ),
            Metric(
                "sfsync_last_success_timestamp_seconds",
                "When a connector last pushed or confirmed its content (Unix time).",
                "gauge",
            ),
            Metric(
                "sfsync_connector_authorized",
                "1 if the connector has a usable authorization.",
                "gauge",
            ),
            Metric("sfsync_api_requests", "HTTP requests sent to Salesforce.", "counter"),
            Metric(
                "sfsync_api_usage_ratio", "Share of the org's daily API allowance spent.", "gauge"
            ),
            Metric("sfsync_token_refresh", "Access-token refreshes.", "counter"),
        )


def _counter(
    family: Metric, row: array[float], slot: int, labels: dict[str, str], *, created: bool
) -> None:
    """Add a counter's `_total` (and `_created`) samples, if the series exists."""
    value, since = row[slot], row[slot + 1]
    if math.isnan(since):
        return
    family.add_sample(family.name + "_total", labels, value)
    if created:
        family.add_sample(family.name + "_created", labels, since)


def _histogram(
    family: Metric, row: array[float], layout: _Layout, labels: dict[str, str], *, created: bool
) -> None:
    """Add a histogram's cumulative buckets, count, sum (and created), if it exists."""
    since = row[layout.push_created]
    if math.isnan(since):
        return
    total = 0.0
    for index, le in enumerate(layout.le):
        total += row[layout.push_buckets + index]
        family.add_sample(family.name + "_bucket", {**labels, "le": le}, total)
    family.add_sample(family.name + "_count", labels, total)
    family.add_sample(family.name + "_sum", labels, row[layout.push_sum])
    if created:
        family.add_sample(family.name + "_created", labels, since)
