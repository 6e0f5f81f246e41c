"""The daemon's Prometheus series: what each record_* call moves, and the exposition."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sfsync.daemon.metrics import SYNC_RESULTS, Metrics
from sfsync.salesforce.limits import ApiUsage
from sfsync.sync.result import Result

CONNECTOR = "lightning/prod"
NOW = 1_767_225_600.0

SPEC_NAMES = [
    "sfsync_sync_total",
    "sfsync_push_seconds",
    "sfsync_package_bytes",
    "sfsync_last_success_timestamp_seconds",
    "sfsync_connector_authorized",
    "sfsync_api_requests_total",
    "sfsync_api_usage_ratio",
    "sfsync_token_refresh_total",
    "sfsync_source_checks_total",
]


@pytest.fixture
def metrics() -> Metrics:
    """A fresh Metrics with its own registry."""
    return Metrics()


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    """Return one sample's value from the metrics' registry (None if it was never recorded)."""
    return metrics.registry.get_sample_value(name, labels)


def record(
    metrics: Metrics, result: str, seconds: float | None = 3.0, size: int | None = 5
) -> None:
    """Record one cycle result for CONNECTOR at NOW."""
    metrics.record_result(CONNECTOR, Result(result), seconds=seconds, size=size, now=NOW)


@pytest.mark.parametrize(
    "result",
    sorted(SYNC_RESULTS),
)
def test_every_sync_result_is_counted_under_its_label(metrics: Metrics, result: str) -> None:
    """Each sync outcome increments sfsync_sync_total for that connector and result only."""
    record(metrics, result)
    record(metrics, result)
    assert sample(metrics, "sfsync_sync_total", connector=CONNECTOR, result=result) == 2.0
    others = set(SYNC_RESULTS) - {result}
    assert all(
        sample(metrics, "sfsync_sync_total", connector=CONNECTOR, result=other) is None
        for other in others
    )


def test_spec_results_are_sync_results() -> None:
    """The results the SPEC names for sfsync_sync_total are all counted."""
    assert {"pushed", "unchanged", "failed", "gated"} <= set(SYNC_RESULTS)


@pytest.mark.parametrize("result", ["busy", "waiting", "planned", "interrupted", "verified"])
def test_states_that_are_not_syncs_are_not_counted(metrics: Metrics, result: str) -> None:
    """Busy, waiting, planned, interrupted and verify's results add no sfsync_sync_total
    series at all.
    """
    record(metrics, result)
    assert sample(metrics, "sfsync_sync_total", connector=CONNECTOR, result=result) is None
    assert b"sfsync_sync_total{" not in metrics.render()


def test_pushed_sets_bytes_observes_seconds_and_marks_success(metrics: Metrics) -> None:
    """A push sets the package size, observes the push time and stamps the last success."""
    record(metrics, "pushed", seconds=3.0, size=123_456)
    assert sample(metrics, "sfsync_package_bytes", connector=CONNECTOR) == 123_456
    assert sample(metrics, "sfsync_push_seconds_count", connector=CONNECTOR) == 1.0
    assert sample(metrics, "sfsync_push_seconds_sum", connector=CONNECTOR) == 3.0
    assert sample(metrics, "sfsync_push_seconds_bucket", connector=CONNECTOR, le="2.5") == 0.0
    assert sample(metrics, "sfsync_push_seconds_bucket", connector=CONNECTOR, le="5.0") == 1.0
    assert sample(metrics, "sfsync_last_success_timestamp_seconds", connector=CONNECTOR) == NOW


def test_pushed_without_time_or_size_leaves_those_series_alone(metrics: Metrics) -> None:
    """A push that reports no time or size observes nothing and sets no size."""
    record(metrics, "pushed", seconds=None, size=None)
    assert sample(metrics, "sfsync_push_seconds_count", connector=CONNECTOR) is None
    assert sample(metrics, "sfsync_package_bytes", connector=CONNECTOR) is None
    assert sample(metrics, "sfsync_sync_total", connector=CONNECTOR, result="pushed") == 1.0


def test_package_bytes_follows_the_latest_push(metrics: Metrics) -> None:
    """sfsync_package_bytes is the size of the build pushed last, not a sum."""
    record(metrics, "pushed", size=1000)
    record(metrics, "pushed", size=700)
    assert sample(metrics, "sfsync_package_bytes", connector=CONNECTOR) == 700


@pytest.mark.parametrize(
    ("result", "last_success"),
    [("pushed", NOW), ("unchanged", NOW), ("failed", None), ("gated", None), ("busy", None)],
)
def test_last_success_is_stamped_only_by_pushed_or_unchanged(
    metrics: Metrics, result: str, last_success: float | None
) -> None:
    """Only a push or a confirmed-unchanged connector moves the last-success timestamp."""
    record(metrics, result)
    assert sample(metrics, "sfsync_last_success_timestamp_seconds", connector=CONNECTOR) == (
        last_success
    )


@pytest.mark.parametrize("result", ["unchanged", "failed", "gated"])
def test_only_pushed_observes_push_time_and_size(metrics: Metrics, result: str) -> None:
    """Results other than pushed neither observe push seconds nor set the package size."""
    record(metrics, result, seconds=9.0, size=99)
    assert sample(metrics, "sfsync_push_seconds_count", connector=CONNECTOR) is None
    assert sample(metrics, "sfsync_package_bytes", connector=CONNECTOR) is None


def test_needs_authorization_result_clears_the_authorized_gauge(metrics: Metrics) -> None:
    """A cycle that ends in needs_authorization sets sfsync_connector_authorized to 0."""
    metrics.set_authorized(CONNECTOR, authorized=True)
    record(metrics, "needs_authorization")
    assert sample(metrics, "sfsync_connector_authorized", connector=CONNECTOR) == 0.0


@pytest.mark.parametrize(("authorized", "value"), [(True, 1.0), (False, 0.0)])
def test_set_authorized(metrics: Metrics, authorized: bool, value: float) -> None:
    """set_authorized writes 1 or 0 to the connector's authorized gauge."""
    metrics.set_authorized(CONNECTOR, authorized=authorized)
    assert sample(metrics, "sfsync_connector_authorized", connector=CONNECTOR) == value


def test_request_counts_per_api_and_sets_usage(metrics: Metrics) -> None:
    """Each answer counts under its API; a reported usage sets the ratio, an absent one keeps
    the last.
    """
    metrics.record_request(CONNECTOR, "tooling", ApiUsage(used=18, allowed=5000))
    metrics.record_request(CONNECTOR, "tooling", None)
    metrics.record_request(CONNECTOR, "oauth", None)
    assert sample(metrics, "sfsync_api_requests_total", connector=CONNECTOR, api="tooling") == 2
    assert sample(metrics, "sfsync_api_requests_total", connector=CONNECTOR, api="oauth") == 1
    assert sample(metrics, "sfsync_api_requests_total", connector=CONNECTOR, api="rest") is None
    assert sample(metrics, "sfsync_api_usage_ratio", connector=CONNECTOR) == pytest.approx(
        18 / 5000
    )


def test_usage_without_allowance_is_zero(metrics: Metrics) -> None:
    """An org reporting no allowance gives a usage ratio of 0, not a division error."""
    metrics.record_request(CONNECTOR, "rest", ApiUsage(used=3, allowed=0))
    assert sample(metrics, "sfsync_api_usage_ratio", connector=CONNECTOR) == 0.0


@pytest.mark.parametrize(
    ("result", "label", "authorized"),
    [
        ("refreshed", "ok", 1.0),
        ("rotated", "ok", 1.0),
        ("needs_authorization", "failed", 0.0),
        ("failed", "failed", None),  # a network failure says nothing about the authorization
    ],
)
def test_token_refresh_counts_ok_or_failed_and_moves_authorized(
    metrics: Metrics, result: str, label: str, authorized: float | None
) -> None:
    """refreshed/rotated count as ok and set authorized to 1; needs_authorization counts as
    failed and sets it to 0; other failures count as failed and leave it alone.
    """
    metrics.record_refresh(CONNECTOR, result)
    assert sample(metrics, "sfsync_token_refresh_total", connector=CONNECTOR, result=label) == 1
    other = "failed" if label == "ok" else "ok"
    assert sample(metrics, "sfsync_token_refresh_total", connector=CONNECTOR, result=other) is None
    assert sample(metrics, "sfsync_connector_authorized", connector=CONNECTOR) == authorized


def test_failed_refresh_keeps_a_known_authorization(metrics: Metrics) -> None:
    """A refresh that failed for another reason does not clear an authorized connector."""
    metrics.set_authorized(CONNECTOR, authorized=True)
    metrics.record_refresh(CONNECTOR, "failed")
    assert sample(metrics, "sfsync_connector_authorized", connector=CONNECTOR) == 1.0


@pytest.mark.parametrize("result", ["new", "same", "waiting", "settling", "failed"])
def test_source_checks_count_per_system_and_result(metrics: Metrics, result: str) -> None:
    """Each look at a source counts under its system and result."""
    metrics.record_source_check("lightning", result)
    metrics.record_source_check("lightning", result)
    metrics.record_source_check("classic", result)
    assert sample(metrics, "sfsync_source_checks_total", system="lightning", result=result) == 2
    assert sample(metrics, "sfsync_source_checks_total", system="classic", result=result) == 1


def test_render_names_every_spec_metric(metrics: Metrics) -> None:
    """After one record of each kind, the exposition holds every metric the SPEC lists, plus
    the process collector's.
    """
    record(metrics, "pushed")
    metrics.set_authorized(CONNECTOR, authorized=True)
    metrics.record_request(CONNECTOR, "tooling", ApiUsage(used=1, allowed=10))
    metrics.record_refresh(CONNECTOR, "refreshed")
    metrics.record_source_check("lightning", "new")
    text = metrics.render().decode()
    missing = [name for name in SPEC_NAMES if f"\n{name}" not in text]
    assert missing == []
    pushed = [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "sfsync_sync_total"
    ]
    assert [(sample.labels, sample.value) for sample in pushed] == [
        ({"connector": CONNECTOR, "result": "pushed"}, 1.0)
    ]
    assert "# TYPE sfsync_push_seconds histogram" in text
    assert "process_cpu_seconds_total" in text
    assert "python_info" in text


def test_two_instances_do_not_share_series() -> None:
    """Two Metrics (a reload) build without a duplicate-name error and count separately."""
    first = Metrics()
    second = Metrics()
    first.record_source_check("lightning", "new")
    assert sample(first, "sfsync_source_checks_total", system="lightning", result="new") == 1
    assert sample(second, "sfsync_source_checks_total", system="lightning", result="new") is None
    assert first.registry is not second.registry


def test_a_tracked_connector_has_every_sync_result_at_zero(metrics: Metrics) -> None:
    """A tracked connector's outcome series exist at 0 before anything happens, so the first
    failure or refused package is an increase an alert can see (a counter born at 1 is not).
    """
    metrics.track_connector(CONNECTOR)
    for result in SYNC_RESULTS:
        assert sample(metrics, "sfsync_sync_total", connector=CONNECTOR, result=result) == 0.0
    record(metrics, "invalid")
    assert sample(metrics, "sfsync_sync_total", connector=CONNECTOR, result="invalid") == 1.0


def test_a_request_under_an_unlisted_api_label_is_counted(metrics: Metrics) -> None:
    """A request counted under an `api` label outside the usual five gets its own series."""
    metrics.record_request(CONNECTOR, "bulk", None)
    metrics.record_request(CONNECTOR, "bulk", None)
    assert sample(metrics, "sfsync_api_requests_total", connector=CONNECTOR, api="bulk") == 2
    assert sample(metrics, "sfsync_api_requests_created", connector=CONNECTOR, api="bulk")


def test_counters_and_the_histogram_expose_created_and_cumulative_buckets(
    metrics: Metrics,
) -> None:
    """As prometheus_client exposes them: `_created` per counter and histogram series, the
    buckets cumulative up to +Inf, which counts a push longer than the largest bound.
    """
    record(metrics, "pushed", seconds=0.2)
    record(metrics, "pushed", seconds=900.0)
    bucket = "sfsync_push_seconds_bucket"
    assert sample(metrics, bucket, connector=CONNECTOR, le="0.1") == 0.0
    assert sample(metrics, bucket, connector=CONNECTOR, le="0.25") == 1.0
    assert sample(metrics, bucket, connector=CONNECTOR, le="600.0") == 1.0
    assert sample(metrics, bucket, connector=CONNECTOR, le="+Inf") == 2.0
    assert sample(metrics, "sfsync_push_seconds_sum", connector=CONNECTOR) == 900.2
    assert sample(metrics, "sfsync_push_seconds_created", connector=CONNECTOR)
    assert sample(metrics, "sfsync_sync_created", connector=CONNECTOR, result="pushed")


def _populated(metrics: Metrics) -> None:
    """Record a bit of everything, for connectors whose names need escaping too."""
    names = [CONNECTOR, 'odd/"quoted"', "odd/back\\slash", "odd/new\nline", "quiet/env"]
    for index, name in enumerate(names[:-1]):
        metrics.track_connector(name)
        metrics.record_result(name, Result.PUSHED, seconds=0.3 * index, size=5_000_000, now=NOW)
        metrics.record_request(name, "tooling", ApiUsage(used=index, allowed=15_000))
        metrics.record_request(name, 'not "an" api', None)  # outside the known APIs
        metrics.record_refresh(name, "failed" if index % 2 else "ok")
        metrics.set_authorized(name, authorized=bool(index % 2))
    metrics.record_result(names[0], Result.FAILED, seconds=4_000_000.0, size=None, now=NOW)
    metrics.track_connector(names[-1])  # counters at 0, no histogram, no gauges
    metrics.record_source_check("lightning", "new")


@pytest.mark.parametrize("created", [True, False])
def test_the_connector_series_are_written_as_prometheus_client_writes_them(
    metrics: Metrics, monkeypatch: pytest.MonkeyPatch, created: bool
) -> None:
    """`render` writes the connector series itself (prometheus_client took 4.4-5.4 s of CPU a
    scrape at 10,000 connectors): byte for byte what `generate_latest` of the whole registry
    writes, escaping, order, `_created` series (or their absence when disabled) and all.
    """
    from prometheus_client import generate_latest  # noqa: PLC0415
    from prometheus_client import metrics as prometheus_metrics  # noqa: PLC0415

    monkeypatch.setattr(prometheus_metrics, "_use_created", created)
    _populated(metrics)
    own = metrics.render().decode().splitlines()
    reference = generate_latest(metrics.registry).decode().splitlines()

    # The process and garbage collector series move between two calls; the rest may not.
    def steady(lines: list[str]) -> list[str]:
        names = [line.split()[2] if line.startswith("#") else line.split()[0] for line in lines]
        return [
            line
            for line, name in zip(lines, names, strict=True)
            if not name.startswith(("process_", "python_gc_"))
        ]

    assert steady(own) == steady(reference)
    assert len(steady(own)) > 100  # every connector family is in it
    assert len(own) == len(reference)
    text = "\n".join(own)
    assert 'connector="odd/\\"quoted\\""' in text
    assert 'connector="odd/new\\nline"' in text
    assert 'sfsync_package_bytes{connector="lightning/prod"} 5e+06' in text  # Go's form
