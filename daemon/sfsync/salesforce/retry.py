"""Retrying what Salesforce may answer better a moment later: 5xx, resets, timeouts and
REQUEST_LIMIT_EXCEEDED, with exponential backoff and full jitter; nothing else is retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sfsync.errors import ApiError, SalesforceUnreachableError

T = TypeVar("T")


class TransientApiError(ApiError):
    """An API answer worth retrying: a 5xx, or the daily limit (which may reset)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry: `attempts` in all, delays up to `cap` seconds."""

    attempts: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 8.0


def backoff_delay(retry_number: int, policy: RetryPolicy, draw: Callable[[], float]) -> float:
    """Given the retry's number (0 for the first), the policy and a draw in [0, 1), return how
    long to wait: "full jitter", so that many connectors retrying at once spread out.
    """
    # 2.0 ** 1024 overflows a float; any cap is reached long before 2 ** 64.
    ceiling = min(policy.cap_seconds, policy.base_seconds * (2.0 ** min(retry_number, 64)))
    return ceiling * draw()


def is_retryable(error: BaseException) -> bool:
    """Given an error from a Salesforce call, return whether trying again may succeed."""
    return isinstance(error, TransientApiError | SalesforceUnreachableError)


def with_retries(
    operation: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    draw: Callable[[], float] = random.random,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Given an operation, run it, retrying transient failures as `policy` allows.

    Raise the last error once the attempts are spent, and any other error at once.
    """
    for retry_number in range(policy.attempts):
        try:
            return operation()
        except Exception as error:
            if not is_retryable(error) or retry_number == policy.attempts - 1:
                raise
            delay = backoff_delay(retry_number, policy, draw)
            if on_retry is not None:
                on_retry(retry_number + 1, error, delay)
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
