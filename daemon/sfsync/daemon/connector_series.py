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
from collections.abc import Iterator, Mapping, Sequence

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

    def exposition(self) -> bytes:
        """Return what prometheus_client's `generate_latest` writes for these families, made
        here in one pass: at 10,000 connectors (420,000 lines, 30 MB) its sample objects and
        per-sample formatting took 4.4-5.4 s of CPU a render, against 0.55-0.7 s here
        (in-process; the daemon's whole scrape is bench row S's).
        """
        with self._lock:
            rows = {connector: array("d", row) for connector, row in self._rows.items()}
            other_apis = {key: list(value) for key, value in self._other_apis.items()}
        layout = self._layout
        text = _Text(rows, created=prometheus_metrics._use_created)  # noqa: SLF001 - its switch
        sync, pushes, size, success, authorized, requests, usage, refresh = self._families()
        text.counter(sync, layout.result_slot, "result")
        text.histogram(pushes, layout)
        text.gauge(size, layout.gauge_slot["package_bytes"])
        text.gauge(success, layout.gauge_slot["last_success"])
        text.gauge(authorized, layout.gauge_slot["authorized"])
        text.counter(requests, layout.api_slot, "api", others=other_apis)
        text.gauge(usage, layout.gauge_slot["api_usage"])
        text.counter(refresh, layout.refresh_slot, "result")
        return b"".join(text.out)

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


class _Text:
    """The text exposition of connector rows, family by family, as `generate_latest` orders
    it: a family's samples, then its `_created` samples as a gauge family of their own.
    """

    def __init__(self, rows: Mapping[str, array[float]], *, created: bool) -> None:
        self.rows = rows
        self.created = created
        self.labels = {connector: _escape(connector) for connector in rows}
        # Each family's text is encoded as soon as it is made: at 10,000 connectors a render
        # peaks 66 MB over the 30 MB it returns (121 MB holding every line as a string until
        # the end, 187 MB through prometheus_client's samples).
        self.out: list[bytes] = []

    def counter(
        self,
        family: Metric,
        slots: Mapping[str, int],
        label: str,
        others: Mapping[tuple[str, str], list[float]] | None = None,
    ) -> None:
        """Write a counter labelled by connector and `label` (one slot pair per value)."""
        values: list[str] = []
        stamps: list[str] = []
        name = family.name
        for connector, row in self.rows.items():
            mine = f'connector="{self.labels[connector]}"'
            for value, slot in slots.items():
                since = row[slot + 1]
                if not math.isnan(since):
                    # Labels in name order, as the exposition sorts them ("api" < "connector").
                    pair = _pair(mine, label, _escape(value))
                    values.append(f"{name}_total{{{pair}}} {_go(row[slot])}\n")
                    stamps.append(f"{name}_created{{{pair}}} {_go(since)}\n")
        for (connector, other), (count, since) in (others or {}).items():
            pair = _pair(f'connector="{_escape(connector)}"', label, _escape(other))
            values.append(f"{name}_total{{{pair}}} {_go(count)}\n")
            stamps.append(f"{name}_created{{{pair}}} {_go(since)}\n")
        self._section(family, f"{name}_total", "counter", values)
        if self.created and stamps:
            self._section(family, f"{name}_created", "gauge", stamps)

    def histogram(self, family: Metric, layout: _Layout) -> None:
        """Write the push time histogram: cumulative buckets, count, sum, then created."""
        values: list[str] = []
        stamps: list[str] = []
        name = family.name
        for connector, row in self.rows.items():
            since = row[layout.push_created]
            if math.isnan(since):
                continue
            mine = f'connector="{self.labels[connector]}"'
            total = 0.0
            for index, le in enumerate(layout.le):
                total += row[layout.push_buckets + index]
                values.append(f'{name}_bucket{{{mine},le="{le}"}} {_go(total)}\n')
            values.append(f"{name}_count{{{mine}}} {_go(total)}\n")
            values.append(f"{name}_sum{{{mine}}} {_go(row[layout.push_sum])}\n")
            stamps.append(f"{name}_created{{{mine}}} {_go(since)}\n")
        self._section(family, name, "histogram", values)
        if self.created and stamps:
            self._section(family, f"{name}_created", "gauge", stamps)

    def gauge(self, family: Metric, slot: int) -> None:
        """Write a gauge labelled by connector, for the connectors that set it."""
        name = family.name
        values = [
            f'{name}{{connector="{self.labels[connector]}"}} {_go(row[slot])}\n'
            for connector, row in self.rows.items()
            if not math.isnan(row[slot])
        ]
        self._section(family, name, "gauge", values)

    def _section(self, family: Metric, name: str, kind: str, lines: list[str]) -> None:
        documentation = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        head = f"# HELP {name} {documentation}\n# TYPE {name} {kind}\n"
        self.out.append((head + "".join(lines)).encode("utf-8"))
        lines.clear()


def _pair(connector: str, label: str, value: str) -> str:
    """Given the connector's label, another label and its escaped value, return both in the
    order the exposition sorts label names.
    """
    other = f'{label}="{value}"'
    return f"{other},{connector}" if label < "connector" else f"{connector},{other}"


def _escape(value: str) -> str:
    """Given a label value, return it escaped as the text exposition writes it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _go(value: float) -> str:
    """Given a sample's value, return it as the text exposition writes it (prometheus_client's
    `floatToGoString`, without its checks for what a row cannot hold, for the 140,000
    timestamps of 10,000 connectors).
    """
    if -1e6 < value < 1e6:  # noqa: PLR2004 - below this Go's form is Python's repr
        return repr(value)
    if not math.isfinite(value):
        return floatToGoString(value)  # type: ignore[no-untyped-call,no-any-return]
    text = repr(value)
    dot = text.find(".")
    if value > 0 and dot > 6:  # noqa: PLR2004 - Go writes an exponent past six digits
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text
