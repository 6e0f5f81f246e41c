"""What each connector waits for between publishes, and so which connectors a source check
runs when nothing new was published.

A failed push waits out its own backoff (`retry_delay`, by the connector's failures in a row);
a closed gate, a deferral, a running deploy or a missing authorization waits its follow-up; a
write whose outcome is unknown waits for its recheck. A connector with nothing pending is
looked at again only when something new is published, and something new is pushed to every
connector at once, whatever it waits for. The periodic re-scan is a check like any other, so
it can no longer retry a failing connector sooner than its backoff allows.

Pure: results and times in, decisions out. The service keeps the map and the scheduler.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sfsync.daemon.backoff import retry_delay
from sfsync.sync.result import Result

# How soon to look again at a connector the last cycle could not finish.
FOLLOW_UP_SECONDS = {
    Result.GATED: 60.0,
    Result.DEFERRED: 300.0,
    Result.DEPLOY_PENDING: 15.0,
    Result.NEEDS_AUTHORIZATION: 15.0,
}


@dataclass(frozen=True)
class Pending:
    """One connector's unfinished work: when to look at it again (monotonic seconds), the
    result that left it, and how many cycles in a row have failed it (0 unless it failed).
    """

    due: float
    outcome: Result
    failures: int = 0


def after_result(
    previous: Pending | None,
    outcome: Result,
    recheck_in: float | None,
    *,
    now: float,
    draw: float,
) -> Pending | None:
    """Given what a connector was waiting for, the result a cycle just gave it (and, for a
    write in doubt, in how many seconds to check the org), the monotonic time and a jitter
    draw in [0, 1), return what it waits for now (None: nothing until the next publish).

    A failure extends the backoff of the failures before it; any other result resets it.
    """
    if outcome.retried:
        failures = (previous.failures if previous is not None else 0) + 1
        return Pending(now + retry_delay(failures, draw), outcome, failures)
    waits = [FOLLOW_UP_SECONDS[outcome]] if outcome in FOLLOW_UP_SECONDS else []
    if recheck_in is not None:
        waits.append(recheck_in)
    return Pending(now + min(waits), outcome) if waits else None


def connectors_to_check(
    pending: Mapping[str, Pending], connectors: Iterable[str], *, new: bool, now: float
) -> list[str]:
    """Given what each connector waits for, a system's connectors in config order, whether
    the source offers something new and the monotonic time, return the connectors a check
    must run now (none: skip the cycle).

    Something new goes to every connector. Otherwise only the connectors whose wait is over
    run, joined by those behind a closed gate: deciding a gate costs no API call, and a gate
    with no soak opens in the same cycle its upstream connector goes live.
    """
    names = list(connectors)
    if new:
        return names
    due = {name for name in names if name in pending and pending[name].due <= now}
    if not due:
        return []
    return [
        name
        for name in names
        if name in due or (name in pending and pending[name].outcome is Result.GATED)
    ]


def next_check_in(pending: Mapping[str, Pending], now: float) -> float | None:
    """Given what each connector waits for and the monotonic time, return in how many
    seconds the earliest wait ends (0 if one already has), or None if nothing waits.
    """
    if not pending:
        return None
    return max(0.0, min(entry.due for entry in pending.values()) - now)
