"""How long a write that got no answer keeps its connector in doubt, per API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from sfsync.salesforce.retry import RetryPolicy
from sfsync.state.packages import PackageArchive
from sfsync.state.store import StateStore
from sfsync.sync.push import Pusher


def pusher() -> Pusher:
    # doubt_window reads neither the store nor the kept builds.
    return Pusher(
        store=cast("StateStore", None),
        archive=cast("PackageArchive", None),
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        retry=RetryPolicy(),
        keep_packages=3,
        deploy_patience_seconds=120.0,
        doubt_seconds=14.0,
    )


def test_a_tooling_write_is_in_doubt_for_the_base_window() -> None:
    """A PATCH or create that got no answer may land until the base window has passed."""
    assert pusher().doubt_window("tooling") == timedelta(seconds=14)


def test_a_deploy_request_is_in_doubt_for_the_deploy_patience_longer() -> None:
    """A deploy request that got no answer may have queued a deploy that runs for as long as a
    deploy is waited for: its connector stays in doubt that much longer.
    """
    assert pusher().doubt_window("metadata") == timedelta(seconds=134)
