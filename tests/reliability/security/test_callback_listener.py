"""Item 4: the OAuth callback listener against another local user.

The redirect URI says `localhost`, which a browser may take to mean [::1] as well as 127.0.0.1;
the listener bound only 127.0.0.1, so another user listening on [::1] at the callback port
could receive the authorization code. And the error text a redirect carries was printed as
sent, escape sequences and newlines included.
"""

from __future__ import annotations

import http.client
import socket
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from sfsync.errors import AuthorizationError, UsageError
from sfsync.salesforce.callback import CallbackListener

pytestmark = pytest.mark.slow

PATH = "/OAuthCallback"


@contextmanager
def squatter_on_ipv6_loopback() -> Iterator[int]:
    """Listen on [::1] at a free port, as another local user would; yield the port."""
    squatter = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        squatter.bind(("::1", 0))
    except OSError as error:
        squatter.close()
        pytest.skip(f"this machine has no IPv6 loopback to squat on ({error.strerror})")
    with squatter:
        squatter.listen()
        yield squatter.getsockname()[1]


def test_a_squatter_on_ipv6_loopback_makes_the_listener_refuse() -> None:
    """With [::1]:port taken, the listener refuses to start and names that address (before, it
    listened on 127.0.0.1 alone and left the squatter to catch a browser trying ::1 first).
    """
    with squatter_on_ipv6_loopback() as port:
        with pytest.raises(UsageError) as refused:
            CallbackListener(port, PATH, "s1").close()
        assert f"[::1]:{port}" in str(refused.value)


def test_the_listener_answers_on_ipv6_loopback_too() -> None:
    """The redirect is received when the browser goes to [::1]."""
    with squatter_on_ipv6_loopback():
        pass  # skips without an IPv6 loopback
    result: dict[str, str] = {}
    with CallbackListener(0, PATH, "s1") as listener:
        waiter = threading.Thread(
            target=lambda: result.update(code=listener.wait(10, "lightning/sandbox"))
        )
        waiter.start()
        browser = http.client.HTTPConnection("::1", listener.port, timeout=5)
        browser.request("GET", f"{PATH}?code=the-code&state=s1")
        assert browser.getresponse().status == 200
        browser.close()
        waiter.join(10)
    assert result == {"code": "the-code"}


def test_an_error_redirect_prints_no_control_characters() -> None:
    """`error_description=%1b[31mX%0aY` ends the wait with an error whose text (printed by
    `sfsync authorize`) holds no control character: no escape, no forged second line.
    """
    raised: list[AuthorizationError] = []
    with CallbackListener(0, PATH, "s1") as listener:

        def wait() -> None:
            try:
                listener.wait(10, "lightning/sandbox")
            except AuthorizationError as error:
                raised.append(error)

        waiter = threading.Thread(target=wait)
        waiter.start()
        browser = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=5)
        browser.request(
            "GET", f"{PATH}?state=s1&error=access_denied&error_description=%1b[31mX%0aY"
        )
        assert browser.getresponse().status == 400
        browser.close()
        waiter.join(10)
    assert len(raised) == 1
    message = str(raised[0])
    assert "access_denied: [31mXY" in message
    assert [char for char in message if unicodedata.category(char).startswith("C")] == []
