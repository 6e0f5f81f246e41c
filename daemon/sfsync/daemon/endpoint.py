"""The daemon's HTTP endpoint on `metrics_listen`: GET /metrics and GET /healthz, nothing else."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST

from sfsync.errors import ConfigError
from sfsync.http_listener import MAX_CONNECTIONS, REQUEST_SECONDS, BoundedHandler, BoundedServer

NOT_FOUND = 404


def split_listen(listen: str) -> tuple[str, int]:
    """Given "HOST:PORT" (IPv6 hosts in brackets), return the host and port."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class _Server(BoundedServer):
    render_metrics: Callable[[], bytes]
    render_health: Callable[[], tuple[int, dict[str, Any]]]


class _Handler(BoundedHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server dispatches on this name
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._answer(200, CONTENT_TYPE_LATEST, self.server.render_metrics())
        elif path == "/healthz":
            status, body = self.server.render_health()
            self._answer(status, "application/json", json.dumps(body).encode() + b"\n")
        else:
            self._answer(NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Endpoint:
    """A running /metrics + /healthz server in a thread of its own, which idle or slow clients
    cannot tie up (see `sfsync.http_listener`).
    """

    def __init__(
        self,
        listen: str,
        render_metrics: Callable[[], bytes],
        render_health: Callable[[], tuple[int, dict[str, Any]]],
        *,
        request_seconds: float = REQUEST_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        host, port = split_listen(listen)
        try:
            self._server = _Server(
                (host, port),
                _Handler,
                request_seconds=request_seconds,
                max_connections=max_connections,
            )
        except OSError as error:
            raise ConfigError(
                f"[daemon] metrics_listen {listen!r}: cannot listen there: {error.strerror}"
            ) from None
        self._server.render_metrics = render_metrics
        self._server.render_health = render_health
        self.listen = listen
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-endpoint", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
