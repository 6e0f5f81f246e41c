"""The daemon's real HTTP endpoint on loopback: /metrics, /healthz, 404s, and a busy port."""

from __future__ import annotations

import http.client
import json
import socket

import pytest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from sfsync.daemon.endpoint import Endpoint
from sfsync.daemon.health import ConnectorHealth, health
from sfsync.daemon.metrics import Metrics
from sfsync.errors import ConfigError


def fetch(port: int, path: str) -> tuple[int, str, bytes]:
    """GET `path` from the endpoint; return the status, content type and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def test_endpoint_serves_metrics_and_health_and_refuses_a_busy_port() -> None:
    """/metrics answers 200 in the Prometheus text format, /healthz answers the health status
    with its JSON body, any other path 404, and a port already taken is a ConfigError naming
    metrics_listen.
    """
    metrics = Metrics()
    metrics.record_source_check("lightning", "new")
    unauthorized = ConnectorHealth(authorized=False, last_result=None, last_error=None)
    expected_status, expected_body = health(
        scheduler_running=True, connectors={"lightning/prod": unauthorized}
    )
    endpoint = Endpoint(
        "127.0.0.1:0",
        metrics.render,
        lambda: health(scheduler_running=True, connectors={"lightning/prod": unauthorized}),
    )
    try:
        status, content_type, body = fetch(endpoint.port, "/metrics")
        assert (status, content_type) == (200, CONTENT_TYPE_LATEST)
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
        }
        key = ("sfsync_source_checks_total", (("result", "new"), ("system", "lightning")))
        assert samples[key] == 1.0

        assert fetch(endpoint.port, "/metrics?name[]=sfsync_sync_total")[0] == 200

        status, content_type, body = fetch(endpoint.port, "/healthz")
        assert expected_status == 503
        assert (status, content_type) == (503, "application/json")
        assert json.loads(body) == expected_body

        for path in ("/", "/metrics/", "/healthz/extra", "/favicon.ico"):
            assert fetch(endpoint.port, path)[0] == 404, path

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as occupant:
            occupant.bind(("127.0.0.1", 0))
            occupant.listen()
            taken = f"127.0.0.1:{occupant.getsockname()[1]}"
            with pytest.raises(ConfigError, match=rf"metrics_listen '{taken}': cannot listen"):
                Endpoint(taken, metrics.render, lambda: (200, {}))
    finally:
        endpoint.close()
