"""The loopback callback's judgement: path, state, error and code (no socket needed)."""

from __future__ import annotations

from typing import Any

from sfsync.salesforce.callback import CallbackOutcome, judge_callback, localhost_addresses

PATH = "/OAuthCallback"


def test_right_state_gives_code() -> None:
    """A redirect with the expected state hands over its code and a 200 page."""
    outcome = CallbackOutcome()
    status, _, _ = judge_callback(f"{PATH}?code=abc&state=s1", PATH, "s1", outcome)
    assert (status, outcome.code, outcome.done) == (200, "abc", True)


def test_wrong_state_is_rejected_and_waiting_goes_on() -> None:
    """A redirect with another state is refused with 400 and does not end the wait."""
    outcome = CallbackOutcome()
    status, _, _ = judge_callback(f"{PATH}?code=abc&state=evil", PATH, "s1", outcome)
    assert (status, outcome.code, outcome.done, outcome.rejected_states) == (400, None, False, 1)


def test_missing_state_is_rejected() -> None:
    """A redirect without a state is refused like a wrong one."""
    outcome = CallbackOutcome()
    assert judge_callback(f"{PATH}?code=abc", PATH, "s1", outcome)[0] == 400
    assert not outcome.done


def test_error_from_salesforce_ends_the_wait() -> None:
    """access_denied with the right state ends the wait with that error."""
    outcome = CallbackOutcome()
    query = f"{PATH}?error=access_denied&error_description=end-user+denied&state=s1"
    status, _, text = judge_callback(query, PATH, "s1", outcome)
    assert status == 400
    assert outcome.done
    assert outcome.error == "access_denied: end-user denied"
    assert "access_denied" in text


def test_other_paths_are_404() -> None:
    """A browser asking for /favicon.ico gets a 404 and the wait goes on."""
    outcome = CallbackOutcome()
    assert judge_callback("/favicon.ico", PATH, "s1", outcome)[0] == 404
    assert not outcome.done


def test_control_characters_in_an_error_redirect_are_dropped() -> None:
    """An escape sequence and a newline in error / error_description never reach the
    terminal: the outcome's error keeps only printable characters.
    """
    outcome = CallbackOutcome()
    judge_callback(
        "/cb?state=s&error=access%1bdenied&error_description=%1b[31mX%0aY%e2%80%ae",
        "/cb",
        "s",
        outcome,
    )
    assert outcome.error == "accessdenied: [31mXY"


def test_localhost_means_both_loopback_addresses_and_whatever_the_resolver_adds() -> None:
    """Browsers take `localhost` as loopback whatever /etc/hosts says, so both loopback
    addresses are listened on, then any other address the resolver gives, once each.
    """

    def resolve(host: str, port: int, **_: object) -> list[tuple[Any, ...]]:
        assert host == "localhost"
        return [(0, 0, 0, "", ("::1", port, 0, 0)), (0, 0, 0, "", ("127.0.1.1", port))]

    assert localhost_addresses(1717, resolve) == ["127.0.0.1", "::1", "127.0.1.1"]
