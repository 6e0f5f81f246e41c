"""Item 3: idle, half-sent connections to the daemon's /metrics + /healthz port and to the
OAuth callback listener.

Before the fix, the endpoint gave every connection a thread for as long as the client liked:
1,020 idle half-sent requests exhausted a 1,024-descriptor limit, after which the endpoint
accepted nothing (and the daemon could open no file). The callback listener served one
connection at a time, so a single idle connection held up the browser's redirect until
`authorize --timeout` expired.
"""

from __future__ import annotations

import http.client
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import pytest

import sfsync
from sfsync.errors import AuthorizationError
from sfsync.salesforce.callback import CallbackListener
from tests.reliability.figures import Figures

pytestmark = pytest.mark.slow

# The directory the sfsync under test was imported from.
DAEMON = Path(sfsync.__file__).resolve().parents[1]
# The endpoint alone, in a process with systemd's default soft descriptor limit.
SERVE = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
from sfsync.daemon.endpoint import Endpoint
endpoint = Endpoint("127.0.0.1:0", lambda: b"up 1\\n", lambda: (200, {"status": "ok"}))
print(endpoint.port, flush=True)
sys.stdin.read()
"""
IDLE_CONNECTIONS = 1000


@contextmanager
def endpoint_process() -> Iterator[tuple[int, int]]:
    """Run the endpoint in a child process limited to 1,024 descriptors; yield its process id
    and port.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(DAEMON)},
    )
    try:
        assert child.stdout is not None
        yield child.pid, int(child.stdout.readline())
    finally:
        child.kill()
        child.communicate(timeout=10)


def half_sent(port: int, stack: ExitStack) -> None:
    """Open a connection that sends half a request and then nothing; keep it open."""
    with suppress(OSError):  # the old server's full accept queue times connects out
        connection = stack.enter_context(socket.create_connection(("127.0.0.1", port), 1))
        connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")


def healthz_seconds(port: int) -> float:
    """Return how long GET /healthz took to answer 200; fail if it did not within 5 s."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
    except OSError as error:
        pytest.fail(f"/healthz did not answer under the flood: {error!r}")
    finally:
        connection.close()
    return time.monotonic() - started


def descriptors(pid: int) -> int:
    """Return how many file descriptors process `pid` holds."""
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


@pytest.mark.alone
def test_healthz_answers_under_1000_idle_connections(figures: Figures) -> None:
    """1,000 idle half-sent requests cost the endpoint no more than its cap of descriptors
    (before: one each, up to the 1,024 limit), and GET /healthz answers 200 within 2 s.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < IDLE_CONNECTIONS + 100:
        pytest.skip(f"this test process may hold only {hard} descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        with endpoint_process() as (pid, port), ExitStack() as stack:
            for _ in range(IDLE_CONNECTIONS):
                half_sent(port, stack)
            seconds = healthz_seconds(port)
            held = descriptors(pid)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    figures.add(
        "security", f"/healthz under {IDLE_CONNECTIONS} idle connections", f"{seconds:.3f}s"
    )
    figures.add("security", f"endpoint descriptors under {IDLE_CONNECTIONS} idle connections", held)
    assert seconds < 3.0
    assert held < 100


def test_the_redirect_arrives_while_an_idle_connection_is_open() -> None:
    """A local user's idle connection to the callback port, opened first, does not keep the
    browser's redirect from being received at once.
    """
    result: dict[str, object] = {}
    with CallbackListener(0, "/OAuthCallback", "s1") as listener, ExitStack() as stack:
        half_sent(listener.port, stack)

        def wait() -> None:
            with suppress(AuthorizationError):
                result["code"] = listener.wait(20, "lightning/sandbox")

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        time.sleep(0.2)
        started = time.monotonic()
        browser = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=5)
        try:
            browser.request("GET", "/OAuthCallback?code=the-code&state=s1")
            status = browser.getresponse().status
        except OSError:
            status = 0
        finally:
            browser.close()
        waiter.join(5)
        assert status == 200
        assert result.get("code") == "the-code"
        assert time.monotonic() - started < 2.0
