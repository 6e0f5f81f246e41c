"""A cycle's exit status (SPEC section 5): the most urgent result among its connectors wins."""

from __future__ import annotations

import pytest

from sfsync.errors import ExitStatus
from sfsync.sync.cycle import ConnectorResult, CycleReport
from sfsync.sync.result import Result


def report(*results: str) -> CycleReport:
    return CycleReport(
        tuple(
            ConnectorResult(f"lightning/env{i}", Result(kind), "") for i, kind in enumerate(results)
        )
    )


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ((), ExitStatus.OK),
        (("pushed", "unchanged", "gated", "paused"), ExitStatus.OK),
        (("deferred", "deploy_pending", "waiting", "planned"), ExitStatus.OK),
        (("pushed", "failed"), ExitStatus.FAILURE),
        (("pushed", "busy"), ExitStatus.FAILURE),
        (("failed", "needs_authorization"), ExitStatus.NEEDS_AUTHORIZATION),
        (("needs_authorization", "invalid", "failed"), ExitStatus.USAGE),
    ],
    ids=[
        "nothing",
        "all-fine",
        "waiting-is-fine",
        "failed",
        "busy",
        "auth-over-failed",
        "usage-first",
    ],
)
def test_the_most_urgent_result_decides(results: tuple[str, ...], expected: ExitStatus) -> None:
    """A refused package (2) outranks a connector needing authorization (3), which outranks a
    failed or busy push (1); gated, paused, deferred, a running deploy and waiting are success.
    """
    assert report(*results).exit_status() == expected
