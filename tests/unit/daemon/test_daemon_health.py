"""What /healthz answers: 200 or 503 from the scheduler and the connectors, one body shape."""

from __future__ import annotations

import json

import pytest

from sfsync.daemon.health import HEALTHY, UNHEALTHY, ConnectorHealth, health
from sfsync.sync.result import Result

BODY_KEYS = {"status", "scheduler_running", "problems", "connectors"}
CONNECTOR_KEYS = {"authorized", "last_result", "last_error"}


def fine(last_result: str | None = "pushed") -> ConnectorHealth:
    """Return an authorized connector whose last cycle ended with `last_result`."""
    return ConnectorHealth(
        authorized=True, last_result=Result(last_result) if last_result else None, last_error=None
    )


@pytest.mark.parametrize(
    "last_result",
    [
        None,  # not checked yet
        "pushed",
        "unchanged",
        "busy",
        "waiting",
        "gated",
        "deferred",
        "paused",
        "deploy_pending",
        "planned",
    ],
)
def test_authorized_connector_that_is_not_failing_is_healthy(last_result: str | None) -> None:
    """Busy, waiting, gated and the other non-failure results leave the daemon healthy."""
    status, body = health(scheduler_running=True, connectors={"lightning/prod": fine(last_result)})
    assert status == HEALTHY == 200
    assert body["status"] == "ok"
    assert body["problems"] == []


def test_no_connectors_with_a_running_scheduler_is_healthy() -> None:
    """A daemon with nothing configured yet but a running scheduler answers 200."""
    assert health(scheduler_running=True, connectors={}) == (
        200,
        {"status": "ok", "scheduler_running": True, "problems": [], "connectors": {}},
    )


@pytest.mark.parametrize(
    ("scheduler_running", "connector", "problem"),
    [
        (False, fine(), "scheduler is not running"),
        (
            True,
            ConnectorHealth(authorized=False, last_result=None, last_error=None),
            "lightning/prod: needs authorization",
        ),
        (
            True,
            ConnectorHealth(
                authorized=False, last_result=Result.FAILED, last_error="token revoked"
            ),
            "lightning/prod: needs authorization",
        ),
        (
            True,
            ConnectorHealth(authorized=True, last_result=Result.FAILED, last_error="HTTP 500"),
            "lightning/prod: failed: HTTP 500",
        ),
        (
            True,
            ConnectorHealth(
                authorized=True, last_result=Result.INVALID, last_error="no index.html"
            ),
            "lightning/prod: invalid: no index.html",
        ),
        (
            True,
            ConnectorHealth(
                authorized=True, last_result=Result.NEEDS_AUTHORIZATION, last_error="invalid_grant"
            ),
            "lightning/prod: needs_authorization: invalid_grant",
        ),
    ],
)
def test_each_problem_makes_the_daemon_unhealthy(
    scheduler_running: bool, connector: ConnectorHealth, problem: str
) -> None:
    """A stopped scheduler, an unauthorized connector, or a failed, invalid or unauthorized
    last result answers 503 and names exactly that one problem.
    """
    status, body = health(
        scheduler_running=scheduler_running, connectors={"lightning/prod": connector}
    )
    assert status == UNHEALTHY == 503
    assert body["status"] == "unhealthy"
    assert body["problems"] == [problem]


def test_failure_without_an_error_text_still_names_connector_and_result() -> None:
    """A failed result with no error message is still reported, naming connector and result."""
    connector = ConnectorHealth(authorized=True, last_result=Result.FAILED, last_error=None)
    status, body = health(scheduler_running=True, connectors={"lightning/prod": connector})
    assert status == 503
    [problem] = body["problems"]
    assert problem.startswith("lightning/prod: failed")
    assert "None" not in problem


def test_problems_list_scheduler_first_then_connectors_by_name() -> None:
    """Problems come in a stable order: the scheduler first, then connectors sorted by name;
    healthy connectors add none.
    """
    connectors = {
        "zeta/prod": ConnectorHealth(authorized=False, last_result=None, last_error=None),
        "alpha/prod": ConnectorHealth(
            authorized=True, last_result=Result.FAILED, last_error="boom"
        ),
        "mid/prod": fine("gated"),
    }
    _, body = health(scheduler_running=False, connectors=connectors)
    assert body["problems"] == [
        "scheduler is not running",
        "alpha/prod: failed: boom",
        "zeta/prod: needs authorization",
    ]
    assert list(body["connectors"]) == ["alpha/prod", "mid/prod", "zeta/prod"]


def test_body_reports_each_connector_as_given() -> None:
    """The body carries every connector's authorization, last result and last error."""
    connectors = {
        "a/prod": ConnectorHealth(
            authorized=True, last_result=Result.FAILED, last_error="HTTP 502"
        ),
        "b/sandbox": ConnectorHealth(authorized=False, last_result=None, last_error=None),
    }
    _, body = health(scheduler_running=True, connectors=connectors)
    assert body["scheduler_running"] is True
    assert body["connectors"] == {
        "a/prod": {"authorized": True, "last_result": "failed", "last_error": "HTTP 502"},
        "b/sandbox": {"authorized": False, "last_result": None, "last_error": None},
    }


@pytest.mark.parametrize(
    ("scheduler_running", "connector"),
    [
        (True, fine()),
        (False, fine()),
        (True, ConnectorHealth(authorized=False, last_result=None, last_error=None)),
    ],
)
def test_body_has_the_same_shape_for_200_and_503(
    scheduler_running: bool, connector: ConnectorHealth
) -> None:
    """Healthy or not, the body has the same keys, and it is plain JSON."""
    _, body = health(scheduler_running=scheduler_running, connectors={"a/prod": connector})
    assert set(body) == BODY_KEYS
    assert set(body["connectors"]["a/prod"]) == CONNECTOR_KEYS
    assert json.loads(json.dumps(body)) == body
