"""What became of one connector in a cycle (or a rollback, or a verify), and everything that
follows from it: the exit status, whether the daemon retries it with backoff, whether the
connector counts as healthy, whether it is a sync outcome the metrics count, and how loud it
is in the log (SPEC sections 5 and 10). One table, so that a new result cannot be handled in
one place and forgotten in another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sfsync.errors import ExitStatus


class Result(StrEnum):
    """One connector's result; the value is what logs, metrics and `status --json` show."""

    PUSHED = "pushed"
    UNCHANGED = "unchanged"  # the build is already live
    GATED = "gated"  # the promotion gate is closed
    PAUSED = "paused"  # an operator paused it (rollback)
    DEPLOY_PENDING = "deploy_pending"  # a Metadata deploy still runs
    DEFERRED = "deferred"  # API usage above the ceiling
    WAITING = "waiting"  # the source has nothing published yet
    BUSY = "busy"  # another sfsync process was pushing to the connector
    PLANNED = "planned"  # a dry run's plan
    INTERRUPTED = "interrupted"  # Ctrl-C or a stop before or during the push
    FAILED = "failed"
    INVALID = "invalid"  # the package was refused
    NEEDS_AUTHORIZATION = "needs_authorization"
    VERIFIED = "verified"  # `verify`: the org serves the live build
    MISMATCH = "mismatch"  # `verify`: the org serves something else

    @property
    def traits(self) -> _Traits:
        """Return what follows from this result."""
        return _TRAITS[self]

    @property
    def exit_status(self) -> ExitStatus:
        """Return the exit status a command ends with when this is its worst result."""
        return self.traits.exit_status

    @property
    def retried(self) -> bool:
        """Return whether the push was tried and did not get through, so the daemon retries
        the connector with backoff.
        """
        return self.traits.retried

    @property
    def healthy(self) -> bool:
        """Return whether `/healthz` counts a connector whose last result this is as well."""
        return self.traits.healthy

    @property
    def failing(self) -> bool:
        """Return whether the connector is failing (the summary's and health's `last_error`);
        a connector needing authorization is counted apart.
        """
        return not self.healthy and self is not Result.NEEDS_AUTHORIZATION

    @property
    def counted(self) -> bool:
        """Return whether `sfsync_sync_total` counts it: a sync outcome, not a passing state
        (waiting, busy, planned, ...), which would only add label values for alerts to miss.
        """
        return self.traits.counted

    @property
    def level(self) -> int:
        """Return its `logging` level (SPEC section 10): what needs an operator is an error,
        what heals by itself a warning, what went as planned info.
        """
        return self.traits.level


@dataclass(frozen=True)
class _Traits:
    exit_status: ExitStatus
    level: int
    retried: bool = False
    healthy: bool = True
    counted: bool = True


_OK_INFO = _Traits(ExitStatus.OK, logging.INFO)
_TRAITS: dict[Result, _Traits] = {
    Result.PUSHED: _OK_INFO,
    Result.UNCHANGED: _OK_INFO,
    Result.GATED: _OK_INFO,
    Result.PAUSED: _OK_INFO,
    Result.DEPLOY_PENDING: _OK_INFO,
    Result.DEFERRED: _Traits(ExitStatus.OK, logging.WARNING),
    Result.WAITING: _Traits(ExitStatus.OK, logging.WARNING, counted=False),
    Result.BUSY: _Traits(ExitStatus.FAILURE, logging.WARNING, retried=True, counted=False),
    Result.PLANNED: _Traits(ExitStatus.OK, logging.INFO, counted=False),
    Result.INTERRUPTED: _Traits(ExitStatus.FAILURE, logging.WARNING, counted=False),
    Result.FAILED: _Traits(ExitStatus.FAILURE, logging.ERROR, retried=True, healthy=False),
    Result.INVALID: _Traits(ExitStatus.USAGE, logging.ERROR, healthy=False),
    Result.NEEDS_AUTHORIZATION: _Traits(
        ExitStatus.NEEDS_AUTHORIZATION, logging.ERROR, healthy=False
    ),
    Result.VERIFIED: _Traits(ExitStatus.OK, logging.INFO, counted=False),
    Result.MISMATCH: _Traits(ExitStatus.FAILURE, logging.ERROR, healthy=False, counted=False),
}

# A refused package (2) outranks a connector needing authorization (3), which outranks a
# failure (1): the first is fixed by the publisher, the second by an admin, the third may heal.
_PRECEDENCE = (ExitStatus.USAGE, ExitStatus.NEEDS_AUTHORIZATION, ExitStatus.FAILURE)


def worst_exit_status(results: list[Result]) -> ExitStatus:
    """Given a command's results, return its exit status (OK when none needs an operator)."""
    statuses = {result.exit_status for result in results}
    return next((status for status in _PRECEDENCE if status in statuses), ExitStatus.OK)
