"""HTTPS servers, one per org plus the login host, multiplexed by a single acceptor thread.

Idle servers cost nothing: one thread blocks in `select()` on every listening socket (no
polling interval), and each accepted connection gets its own thread, as werkzeug's threaded
server would give it, which serves its requests until the connection closes (`handler`).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from sfsync_emulator.handler import KeepAliveHandler

HANDSHAKE_TIMEOUT = 10.0
JOIN_TIMEOUT = 2.0


class ServerPool:
    """Listening servers and their live connections; `close()` leaves nothing running."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._servers: list[BaseWSGIServer] = []
        self._pending: list[BaseWSGIServer] = []
        self._connections: dict[threading.Thread, socket.socket] = {}
        self._closing = threading.Event()
        self._acceptor = threading.Thread(
            target=self._run, name="sfsync-emulator-accept", daemon=True
        )
        self._acceptor.start()

    def add(self, app: Any, port: int = 0) -> int:
        """Listen on 127.0.0.1:`port` (0: any free port) for `app`; return the port."""
        # Bind ourselves: werkzeug calls sys.exit() when its own bind fails.
        listener = socket.create_server(("127.0.0.1", port))
        try:
            server = make_server(
                "127.0.0.1",
                port,
                app,
                threaded=True,
                request_handler=KeepAliveHandler,
                ssl_context=self._ssl_context,
                fd=listener.fileno(),
            )
        finally:
            listener.close()
        server.socket.setblocking(False)  # noqa: FBT003 - socket API
        with self._lock:
            self._servers.append(server)
            self._pending.append(server)
        self._wake()
        return int(server.port)

    def close(self) -> None:
        """Stop accepting, cut every open connection (a kept-alive one waiting for its next
        request too), and join every thread started.
        """
        self._closing.set()
        self._wake()
        self._acceptor.join(JOIN_TIMEOUT)
        with self._lock:
            servers, connections = list(self._servers), dict(self._connections)
        for server in servers:
            server.server_close()
        for connection in connections.values():
            with contextlib.suppress(OSError):
                socket.socket.shutdown(connection, socket.SHUT_RDWR)
        for thread in connections:
            thread.join(JOIN_TIMEOUT)
        self._selector.close()
        self._wake_reader.close()
        self._wake_writer.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")

    def _run(self) -> None:
        while not self._closing.is_set():
            with self._lock:
                pending, self._pending = self._pending, []
            for server in pending:
                self._selector.register(server.socket, selectors.EVENT_READ, server)
            for key, _ in self._selector.select():
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_reader.recv(4096)
                else:
                    self._accept(key.data)

    def _accept(self, server: BaseWSGIServer) -> None:
        try:
            connection, address = server.socket.accept()
        except (BlockingIOError, OSError):
            return
        thread = threading.Thread(
            target=self._serve, args=(server, connection, address), daemon=True
        )
        with self._lock:
            self._connections[thread] = connection
        thread.start()

    def _serve(self, server: BaseWSGIServer, connection: Any, address: Any) -> None:
        try:
            connection.settimeout(HANDSHAKE_TIMEOUT)
            connection.do_handshake()
            connection.settimeout(None)
            server.finish_request(connection, address)
        except (OSError, ValueError):
            pass  # a client that went away, or a socket close() cut: nothing to answer
        finally:
            self._finish(connection)
            with self._lock:
                self._connections.pop(threading.current_thread(), None)

    @staticmethod
    def _finish(connection: Any) -> None:
        with contextlib.suppress(OSError):
            linger = connection.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER)
            if linger == 0:
                socket.socket.shutdown(connection, socket.SHUT_WR)
        with contextlib.suppress(OSError):
            connection.close()
