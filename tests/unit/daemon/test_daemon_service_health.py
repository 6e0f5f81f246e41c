"""The daemon's /healthz and its authorized gauge never disagree: the health map moves first,
so whoever sees the gauge change finds /healthz already saying the same (CI once read the
gauge at 0 while /healthz still answered 200).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sfsync.config import load_config
from sfsync.daemon.metrics import Metrics
from sfsync.daemon.notify import Notifier
from sfsync.daemon.service import Service
from sfsync.sync.cycle import ConnectorResult
from sfsync.sync.result import Result

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "sfsync.example.toml"


class WatchedMetrics(Metrics):
    """Metrics that note, at each authorized-gauge change, what the service's health says."""

    def __init__(self) -> None:
        super().__init__()
        self.service: Service | None = None
        self.seen: list[tuple[str, float | None, bool]] = []

    def _note(self, connector: str) -> None:
        assert self.service is not None
        gauge = self.registry.get_sample_value(
            "sfsync_connector_authorized", {"connector": connector}
        )
        _, body = self.service.health()
        self.seen.append((connector, gauge, body["connectors"][connector]["authorized"]))

    def record_refresh(self, connector: str, result: str) -> None:
        super().record_refresh(connector, result)
        self._note(connector)

    def record_result(
        self,
        connector: str,
        result: Result,
        *,
        seconds: float | None,
        size: int | None,
        now: float,
    ) -> None:
        super().record_result(connector, result, seconds=seconds, size=size, now=now)
        self._note(connector)


@pytest.fixture
def watched() -> tuple[Service, WatchedMetrics, str]:
    loaded = load_config(EXAMPLE)
    metrics = WatchedMetrics()
    service = Service(loaded, metrics, Notifier({}))
    metrics.service = service
    return service, metrics, loaded.connectors[0].name


@pytest.mark.parametrize(
    ("result", "authorized"),
    [("needs_authorization", False), ("refreshed", True), ("rotated", True)],
)
def test_a_refresh_moves_health_before_the_gauge(
    watched: tuple[Service, WatchedMetrics, str], result: str, authorized: bool
) -> None:
    service, metrics, name = watched
    service.observers.on_refresh(name, result)
    assert metrics.seen == [(name, 1.0 if authorized else 0.0, authorized)]


def test_a_needs_authorization_result_moves_health_before_the_gauge(
    watched: tuple[Service, WatchedMetrics, str],
) -> None:
    service, metrics, name = watched
    service.observers.on_refresh(name, "refreshed")
    service.observers.on_result(ConnectorResult(name, Result.NEEDS_AUTHORIZATION, "refused"))
    assert metrics.seen[-1] == (name, 0.0, False)
    status, body = service.health()
    assert status == 503
    assert any(name in problem and "authorization" in problem for problem in body["problems"])


def test_a_failed_refresh_leaves_the_authorization_alone(
    watched: tuple[Service, WatchedMetrics, str],
) -> None:
    service, metrics, name = watched
    service.observers.on_refresh(name, "refreshed")
    service.observers.on_refresh(name, "failed")
    assert metrics.seen[-1] == (name, 1.0, True)
