"""What each connector waits for between publishes: a failure backs off per connector, a
re-scan runs only the connectors whose wait is over, a new publish runs them all.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfsync.daemon.backoff import LONGEST_RETRY_SECONDS, retry_delay
from sfsync.daemon.pending import (
    FOLLOW_UP_SECONDS,
    Pending,
    after_result,
    connectors_to_check,
    next_check_in,
)
from sfsync.sync.result import Result

SANDBOX = "lightning/sandbox"
UAT = "lightning/uat"
PRODUCTION = "lightning/production"
CONNECTORS = [SANDBOX, UAT, PRODUCTION]
RESCAN_SECONDS = 30.0
DAY_SECONDS = 86_400.0

DRAWS = st.floats(min_value=0.0, max_value=1.0, exclude_max=True, allow_nan=False)


def test_a_first_failure_waits_the_first_backoff() -> None:
    """One failure: due after retry_delay(1, draw), one failure counted."""
    pending = after_result(None, Result.FAILED, None, now=100.0, draw=0.5)
    assert pending == Pending(100.0 + retry_delay(1, 0.5), Result.FAILED, 1)


def test_failures_in_a_row_double_the_wait() -> None:
    """Each further failure counts on from the last and waits longer."""
    first = after_result(None, Result.FAILED, None, now=0.0, draw=0.0)
    second = after_result(first, Result.FAILED, None, now=10.0, draw=0.0)
    third = after_result(second, Result.BUSY, None, now=20.0, draw=0.0)
    assert first is not None
    assert second is not None
    assert third is not None
    assert (first.failures, second.failures, third.failures) == (1, 2, 3)
    assert first.due == 2.5
    assert second.due == 10.0 + 5.0
    assert third.due == 20.0 + 10.0


@pytest.mark.parametrize(
    "result", [Result.PUSHED, Result.UNCHANGED, Result.INVALID, Result.WAITING, Result.PAUSED]
)
def test_a_result_with_nothing_left_to_do_ends_the_wait(result: Result) -> None:
    """A success (or a result only a new publish can change) leaves nothing pending."""
    failing = Pending(50.0, Result.FAILED, 6)
    assert after_result(failing, result, None, now=40.0, draw=0.3) is None


def test_a_success_resets_the_backoff() -> None:
    """After a success, the next failure is counted as the first again."""
    failing = Pending(500.0, Result.FAILED, 7)
    cleared = after_result(failing, Result.PUSHED, None, now=600.0, draw=0.0)
    again = after_result(cleared, Result.FAILED, None, now=700.0, draw=0.0)
    assert again == Pending(702.5, Result.FAILED, 1)


@pytest.mark.parametrize(("result", "seconds"), sorted(FOLLOW_UP_SECONDS.items()))
def test_a_follow_up_waits_its_own_time_and_resets_failures(result: Result, seconds: float) -> None:
    """A closed gate, a deferral, a running deploy or a missing authorization is not a
    failure: it waits its follow-up, and its failures count starts again.
    """
    failing = Pending(10.0, Result.FAILED, 4)
    assert after_result(failing, result, None, now=1000.0, draw=0.9) == Pending(
        1000.0 + seconds, result
    )


def test_a_write_in_doubt_waits_for_its_recheck() -> None:
    """A pushed or unchanged connector whose earlier write is in doubt is looked at again
    when the recheck is due; with a follow-up too, the earlier wins.
    """
    assert after_result(None, Result.PUSHED, 42.0, now=0.0, draw=0.0) == Pending(
        42.0, Result.PUSHED
    )
    assert after_result(None, Result.UNCHANGED, 7.0, now=1.0, draw=0.0) == Pending(
        8.0, Result.UNCHANGED
    )
    assert after_result(None, Result.DEFERRED, 120.0, now=0.0, draw=0.0) == Pending(
        120.0, Result.DEFERRED
    )


def test_something_new_runs_every_connector_whatever_it_waits_for() -> None:
    """A new publish is pushed at once, even to a connector deep in its backoff."""
    pending = {UAT: Pending(10_000.0, Result.FAILED, 9)}
    assert connectors_to_check(pending, CONNECTORS, new=True, now=0.0) == CONNECTORS


def test_nothing_new_and_nothing_due_runs_nothing() -> None:
    """A re-scan that finds the same package while a failure backs off runs no cycle."""
    pending = {UAT: Pending(300.0, Result.FAILED, 6)}
    assert connectors_to_check(pending, CONNECTORS, new=False, now=299.9) == []
    assert connectors_to_check({}, CONNECTORS, new=False, now=299.9) == []


def test_only_the_connectors_whose_wait_is_over_run() -> None:
    """Once a backoff is over, its connector runs alone: the idle ones and those still
    backing off are left alone.
    """
    pending = {UAT: Pending(300.0, Result.FAILED, 6), PRODUCTION: Pending(900.0, Result.FAILED, 8)}
    assert connectors_to_check(pending, CONNECTORS, new=False, now=300.0) == [UAT]


def test_a_closed_gate_joins_any_cycle_so_it_can_open_with_its_upstream() -> None:
    """Production, gated on sandbox, is looked at whenever sandbox's retry runs (it costs no
    call), in config order; a gate alone waits for its own follow-up.
    """
    pending = {SANDBOX: Pending(20.0, Result.FAILED, 2), PRODUCTION: Pending(60.0, Result.GATED)}
    assert connectors_to_check(pending, CONNECTORS, new=False, now=20.0) == [SANDBOX, PRODUCTION]
    assert connectors_to_check(pending, CONNECTORS, new=False, now=19.0) == []
    gate_only = {PRODUCTION: Pending(60.0, Result.GATED)}
    assert connectors_to_check(gate_only, CONNECTORS, new=False, now=60.0) == [PRODUCTION]


def test_next_check_is_the_earliest_wait() -> None:
    """The next check is scheduled for the earliest due connector; none when nothing waits;
    at once when one is already due.
    """
    pending = {UAT: Pending(300.0, Result.FAILED, 6), PRODUCTION: Pending(90.0, Result.GATED)}
    assert next_check_in(pending, 30.0) == 60.0
    assert next_check_in(pending, 100.0) == 0.0
    assert next_check_in({}, 30.0) is None


def test_a_connector_refused_all_day_is_not_retried_at_every_rescan() -> None:
    """A day of 30 s re-scans with one connector refused every time (a 400 from its org):
    it is tried about once per capped backoff (under 200 times, not 2,880), while the
    healthy connectors, with nothing pending, are never run again.
    """
    pending = after_result(None, Result.FAILED, None, now=0.0, draw=0.5)
    assert pending is not None
    waits: dict[str, Pending] = {UAT: pending}
    attempts = dict.fromkeys(CONNECTORS, 0)
    now = 0.0
    while now < DAY_SECONDS:
        now += RESCAN_SECONDS
        for name in connectors_to_check(waits, CONNECTORS, new=False, now=now):
            attempts[name] += 1
            after = after_result(waits.get(name), Result.FAILED, None, now=now, draw=0.5)
            assert after is not None
            waits[name] = after
    assert attempts[SANDBOX] == attempts[PRODUCTION] == 0
    # With draw 0.5 the capped wait is three quarters of 600 s; the doublings before the cap
    # add at most one attempt each.
    capped_wait = 0.75 * LONGEST_RETRY_SECONDS
    assert DAY_SECONDS / LONGEST_RETRY_SECONDS < attempts[UAT] <= DAY_SECONDS / capped_wait + 8


@given(
    failures=st.integers(min_value=0, max_value=40),
    draw=DRAWS,
    elapsed=st.floats(min_value=0.0, max_value=2 * LONGEST_RETRY_SECONDS, allow_nan=False),
)
def test_a_backing_off_connector_never_runs_before_its_backoff(
    failures: int, draw: float, elapsed: float
) -> None:
    """Whatever its failures so far and the jitter, a failed connector is chosen for a check
    without anything new exactly when its backoff has passed.
    """
    previous = Pending(0.0, Result.FAILED, failures) if failures else None
    pending = after_result(previous, Result.FAILED, None, now=0.0, draw=draw)
    assert pending is not None
    chosen = connectors_to_check({UAT: pending}, CONNECTORS, new=False, now=elapsed)
    assert chosen == ([UAT] if elapsed >= retry_delay(failures + 1, draw) else [])
