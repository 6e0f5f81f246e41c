"""Retrying Salesforce calls: which errors, how many times, and how long between tries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfsync.errors import ApiError, AuthorizationError, SalesforceUnreachableError
from sfsync.salesforce.retry import RetryPolicy, TransientApiError, backoff_delay, with_retries

POLICY = RetryPolicy(attempts=4, base_seconds=0.5, cap_seconds=8.0)


def test_the_ceiling_doubles_up_to_the_cap() -> None:
    """With the top draw, the delays are the ceilings: 0.5, 1, 2, 4, 8, then 8 for ever."""
    top = 1.0 - 1e-12
    ceilings = [round(backoff_delay(n, POLICY, lambda: top), 6) for n in range(8)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]


@given(retry=st.integers(min_value=0, max_value=2000), draw=st.floats(0, 1, exclude_max=True))
def test_full_jitter_stays_between_zero_and_the_ceiling(retry: int, draw: float) -> None:
    """Every delay is the draw's share of the ceiling, never above the cap, even after
    thousands of retries (2.0 ** 2000 must not overflow into an error).
    """
    delay = backoff_delay(retry, POLICY, lambda: draw)
    assert 0.0 <= delay <= POLICY.cap_seconds
    assert delay == pytest.approx(min(8.0, 0.5 * 2.0 ** min(retry, 10)) * draw)


@pytest.mark.parametrize(
    "error",
    [
        TransientApiError("HTTP 503"),
        TransientApiError("REQUEST_LIMIT_EXCEEDED"),
        SalesforceUnreachableError("connection reset"),
    ],
    ids=["5xx", "limit", "reset-or-timeout"],
)
def test_transient_errors_are_retried_until_the_attempts_are_spent(error: Exception) -> None:
    """A transient error is tried `attempts` times in all, sleeping the jittered delays
    between, then raised as it was.
    """
    calls: list[int] = []
    slept: list[float] = []
    retried: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)) as raised:
        with_retries(
            failing,
            POLICY,
            sleep=slept.append,
            draw=lambda: 0.5,
            on_retry=lambda n, _e, _d: retried.append(n),
        )
    assert raised.value is error
    assert len(calls) == 4
    assert slept == [0.25, 0.5, 1.0]
    assert retried == [1, 2, 3]


@pytest.mark.parametrize(
    "error",
    [ApiError("HTTP 400 INVALID_FIELD: bad"), AuthorizationError("refresh token revoked")],
    ids=["4xx", "401-after-refresh"],
)
def test_other_errors_are_raised_at_once(error: Exception) -> None:
    """A 4xx or a refused authorization is not retried: one call, no sleep."""
    calls: list[int] = []
    slept: list[float] = []

    def failing() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        with_retries(failing, POLICY, sleep=slept.append)
    assert calls == [1]
    assert slept == []


def test_a_success_after_a_blip_returns_its_value() -> None:
    """One reset, then an answer: the answer is returned after one sleep."""
    answers: Iterator[str | Exception] = iter([SalesforceUnreachableError("reset"), "0811x"])
    slept: list[float] = []

    def flaky() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert with_retries(flaky, POLICY, sleep=slept.append, draw=lambda: 0.0) == "0811x"
    assert slept == [0.0]
