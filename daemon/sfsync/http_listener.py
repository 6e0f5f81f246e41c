"""A small HTTP server that no local user can tie up: the daemon's /metrics + /healthz endpoint
and the OAuth callback listener both stand on it.

Any local user can connect to a loopback port. A server that gives each connection a thread
for as long as the client likes, with no cap, hands a file descriptor and a thread to every
idle half-sent request: 1,020 of them exhausted the daemon's file limit, and it stopped
seeing publishes. So each connection has `request_seconds` in all to send its request (not
per read: one byte every few seconds must not keep it open), and past `max_connections`
open at once the oldest connection still waiting for its request is closed to make room.
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REQUEST_SECONDS = 5.0
MAX_CONNECTIONS = 32


class _DeadlineReader(io.RawIOBase):
    """Reads a socket, giving up with TimeoutError once the deadline has passed, however
    slowly the bytes trickle in.
    """

    def __init__(
        self, connection: socket.socket, deadline: float, monotonic: Callable[[], float]
    ) -> None:
        super().__init__()
        self._connection = connection
        self._deadline = deadline
        self._monotonic = monotonic

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline - self._monotonic()
        if remaining <= 0:
            raise TimeoutError("the request took too long to arrive")
        self._connection.settimeout(remaining)
        return self._connection.recv_into(buffer)


class BoundedHandler(BaseHTTPRequestHandler):
    """A request handler whose request must arrive whole within the server's
    `request_seconds`; answers are written under the same timeout.
    """

    server: BoundedServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.request_seconds)  # for writing the answer
        deadline = time.monotonic() + self.server.request_seconds
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, deadline, time.monotonic))

    def parse_request(self) -> bool:
        """Parse the request head as the base class does (reading the headers), then tell the
        server it arrived.
        """
        parsed = super().parse_request()
        self.server.request_head_received(self.connection)
        return parsed

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        """Stay quiet: request lines may carry an authorization code, and scrapes every few
        seconds would drown the journal.
        """


class BoundedServer(ThreadingHTTPServer):
    """A threading HTTP server with a per-connection deadline and a cap on open connections.

    At the cap, a new connection takes the place of the oldest one still waiting for its
    request head, which is closed at once: a flood of idle connections then costs the server
    at most `max_connections` descriptors and threads, and a real client (whose request
    arrives right after it connects) is served at once instead of after the flood's
    deadline. Only when every open connection is being answered is the new one closed.

    `connections_evicted` counts idle connections closed to make room; `connections_refused`
    the new ones closed because none could be.
    """

    daemon_threads = True
    # The listen backlog: with the default 5, a burst of connections overflows the accept queue
    # and the kernel leaves the rest half-open for seconds, out of the cap's reach.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BoundedHandler],
        *,
        request_seconds: float = REQUEST_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.request_seconds = request_seconds
        self.max_connections = max_connections
        self.connections_evicted = 0
        self.connections_refused = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        # Connections whose request head has not arrived yet, oldest first.
        self._waiting: dict[socket.socket, None] = {}
        super().__init__(address, handler)

    @property
    def open_connections(self) -> int:
        """Return how many connections are being served now."""
        with self._lock:
            return len(self._open)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection in a thread of its own, making room past the cap."""
        with self._lock:
            if len(self._open) >= self.max_connections:
                if not self._waiting:
                    self.connections_refused += 1
                    refused = True
                else:
                    oldest = next(iter(self._waiting))
                    self._forget(oldest)
                    self.connections_evicted += 1
                    # Under the lock, so that its own thread cannot have closed it yet.
                    _hang_up(oldest)
                    refused = False
            else:
                refused = False
            if not refused:
                self._open.add(request)
                self._waiting[request] = None
        if refused:
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.shutdown_request(request)  # no thread started: close and count it off here
            raise

    def request_head_received(self, request: socket.socket) -> None:
        """Mark a connection as being answered: it can no longer be evicted."""
        with self._lock:
            self._waiting.pop(request, None)

    def shutdown_request(self, request: Any) -> None:
        """Count the connection off, then close it."""
        with self._lock:
            self._forget(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up or time out (a flood of them would flood the
        journal); report anything else as the base class does.
        """
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def _forget(self, request: socket.socket) -> None:
        self._open.discard(request)
        self._waiting.pop(request, None)


def _hang_up(connection: socket.socket) -> None:
    """End a connection another thread is reading: its read returns at once."""
    with contextlib.suppress(OSError):  # the client has gone already
        connection.shutdown(socket.SHUT_RDWR)
