"""The bounded loopback servers (/metrics + /healthz, the OAuth callback) against real sockets:
idle and trickling clients are dropped, and past the cap a connection is closed at once.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from sfsync.daemon.endpoint import Endpoint
from sfsync.errors import AuthorizationError
from sfsync.salesforce.callback import CallbackListener

PATH = "/OAuthCallback"


def open_descriptors() -> int:
    """Return how many file descriptors this process holds now."""
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def half_sent(port: int) -> socket.socket:
    """Open a connection and send the start of a request that never ends."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    return connection


def seconds_until_closed(connection: socket.socket, limit: float) -> float:
    """Return how long the server took to close the connection; fail past `limit`."""
    started = time.monotonic()
    connection.settimeout(limit)
    try:
        while connection.recv(4096):
            pass
    except TimeoutError:
        pytest.fail(f"the server kept an idle connection open for over {limit:g}s")
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def get(port: int, path: str) -> int:
    """GET `path` and return the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@contextmanager
def endpoint(**limits: float) -> Iterator[Endpoint]:
    """Run an endpoint on a free loopback port, with the given limits."""
    server = Endpoint("127.0.0.1:0", lambda: b"up 1\n", lambda: (200, {}), **limits)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.close()


def test_an_idle_connection_is_closed_after_the_default_deadline() -> None:
    """With the default limits, a client that sends half a request and waits is hung up on
    within about 5 s (before, it held its thread and descriptor for as long as it liked).
    """
    with endpoint() as server, half_sent(server.port) as idle:
        assert seconds_until_closed(idle, 9.0) < 7.0


def test_a_trickling_request_is_cut_at_the_deadline_however_slow() -> None:
    """One byte every 0.2 s never hits a per-read timeout; the deadline covers the whole
    request, so the connection is closed after `request_seconds`.
    """
    with endpoint(request_seconds=1.0) as server:
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        started = time.monotonic()
        closed_after = None
        with connection:
            for byte in b"GET /metrics HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx":
                try:
                    connection.sendall(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    closed_after = time.monotonic() - started
                    break
                time.sleep(0.2)
            else:
                closed_after = seconds_until_closed(connection, 3.0) + (time.monotonic() - started)
        assert closed_after is not None
        assert closed_after < 3.0


def test_past_the_cap_the_oldest_idle_connections_are_closed_and_descriptors_stay_bounded() -> None:
    """200 idle connections cost the server at most `max_connections` descriptors: each new
    one past the cap takes the place of the oldest idle one, which is closed at once.
    """
    with endpoint() as server, ExitStack() as stack:
        before = open_descriptors()
        idle = [stack.enter_context(half_sent(server.port)) for _ in range(200)]
        deadline = time.monotonic() + 5
        while server._server.connections_evicted < 200 - 32 and time.monotonic() < deadline:
            time.sleep(0.05)
        held_by_server = open_descriptors() - before - len(idle)
        assert server._server.connections_evicted >= 200 - 32
        assert server._server.connections_refused == 0
        assert held_by_server <= 32 + 2
        assert server._server.open_connections <= 32
        assert seconds_until_closed(idle[0], 2.0) < 1.0


def test_a_scrape_is_answered_at_once_with_the_cap_full_of_idle_connections() -> None:
    """With every slot held by an idle connection (and a long deadline), a scrape still gets
    200 at once: it takes the oldest idle connection's place.
    """
    with endpoint(request_seconds=30.0, max_connections=4) as server, ExitStack() as stack:
        for _ in range(4):
            stack.enter_context(half_sent(server.port))
        time.sleep(0.2)
        started = time.monotonic()
        assert get(server.port, "/metrics") == 200
        assert time.monotonic() - started < 1.0


def test_a_connection_is_refused_only_when_every_slot_is_being_answered() -> None:
    """With both slots answering (their requests arrived), a third connection is closed at
    once instead of waiting, and nothing being answered is cut.
    """
    release = threading.Event()

    def slow_metrics() -> bytes:
        release.wait(10)
        return b"up 1\n"

    server = Endpoint("127.0.0.1:0", slow_metrics, lambda: (200, {}), max_connections=2)
    statuses: list[int] = []
    scrapes = [
        threading.Thread(target=lambda: statuses.append(get(server.port, "/metrics")))
        for _ in range(2)
    ]
    try:
        for scrape in scrapes:
            scrape.start()
        deadline = time.monotonic() + 5
        while server._server.open_connections < 2 or server._server._waiting:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        third = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        with third:
            assert seconds_until_closed(third, 2.0) < 1.0
        assert server._server.connections_refused == 1
        release.set()
        for scrape in scrapes:
            scrape.join(10)
        assert statuses == [200, 200]
    finally:
        release.set()
        server.close()


@contextmanager
def waiting(listener: CallbackListener, timeout: float) -> Iterator[dict[str, object]]:
    """Run `listener.wait(timeout)` in a thread; yield what it returned or raised."""
    result: dict[str, object] = {}

    def run() -> None:
        started = time.monotonic()
        try:
            result["code"] = listener.wait(timeout, "lightning/sandbox")
        except AuthorizationError as error:
            result["error"] = error
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        thread.join(timeout=timeout + 10)


def test_an_idle_connection_does_not_block_the_real_redirect() -> None:
    """A connection opened first and left idle does not stop the browser's redirect from being
    served at once (before, the one-at-a-time listener read the idle one forever).
    """
    with CallbackListener(0, PATH, "s1") as listener, half_sent(listener.port):
        with waiting(listener, 30.0) as result:
            time.sleep(0.2)
            assert get(listener.port, f"{PATH}?code=the-code&state=s1") == 200
        assert result["code"] == "the-code"
        assert float(result["seconds"]) < 3.0  # type: ignore[arg-type]


def test_an_idle_connection_does_not_stretch_the_authorize_timeout() -> None:
    """`wait(1)` gives up after about a second even while a connection sits idle."""
    with CallbackListener(0, PATH, "s1") as listener, half_sent(listener.port):
        with waiting(listener, 1.0) as result:
            pass
        assert isinstance(result.get("error"), AuthorizationError)
        assert float(result["seconds"]) < 3.0  # type: ignore[arg-type]


def test_only_the_first_redirect_counts() -> None:
    """A second redirect with the right state cannot replace the code already received."""
    with CallbackListener(0, PATH, "s1") as listener:
        with waiting(listener, 10.0) as result:
            assert get(listener.port, f"{PATH}?code=first&state=s1") == 200
        assert get(listener.port, f"{PATH}?code=second&state=s1") == 409
        assert result["code"] == "first"
        assert listener.outcome.code == "first"
