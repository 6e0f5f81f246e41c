"""One connection's HTTP/1.1 exchanges with an emulator server, kept alive between requests.

Salesforce keeps HTTP/1.1 connections open between requests [U: clients pool them, and report
idle ones the server closed, psf/requests#4506], so a client pays one TLS handshake per
connection, not per request. werkzeug's development server answers every request with
`Connection: close` and then reads and discards whatever the client sends next (its way of
draining an unread body), which would swallow the next request of a kept connection. This
handler answers as werkzeug's does, but with the body's length, without `Connection: close`
unless the org was told to close (`OrgHandle.keep_alive`) or the client asked, and drains only
what is left of the request's own body.
"""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Iterable
from typing import Any, cast

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import DechunkedInput, WSGIRequestHandler

from sfsync_emulator.app import EmulatorApp

LOG = logging.getLogger(__name__)
DROPPED = (ConnectionError, socket.timeout)
_NO_BODY_STATUSES = frozenset({204, 304})
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


class KeepAliveHandler(WSGIRequestHandler):
    """werkzeug's WSGI handler, keeping connections alive, without per-request logging."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Keep test output clean: the emulator has its own request log."""

    def log(self, *args: Any, **kwargs: Any) -> None:
        """Keep test output clean: errors surface to the client as answers."""

    def connection_dropped(self, _error: BaseException, _environ: Any = None) -> None:
        """Stop reading from a connection that a fault (or the client) cut."""
        self.close_connection = True

    def run_wsgi(self) -> None:
        """Answer one request with the server's app; keep the connection unless told not to."""
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.environ = self.make_environ()
        body = _request_body(environ)
        environ["wsgi.input"] = body
        environ["wsgi.input_terminated"] = True  # the stream ends where the request's body does
        try:
            status, headers, content = _call(self.server.app, environ)
            # What the app left unread goes, so that the next request starts where it should.
            while body.read(1 << 20):
                pass
        except DROPPED as error:
            self.connection_dropped(error, environ)
            return
        app = self.server.app
        keep = not self.close_connection and (not isinstance(app, EmulatorApp) or app.keeps_alive())
        self._send(status, headers, content, keep=keep)

    def _send(
        self, status: str, headers: list[tuple[str, str]], content: bytes, *, keep: bool
    ) -> None:
        code_text, _, message = status.partition(" ")
        code = int(code_text)
        self.send_response(code, message)
        for key, value in headers:
            if key.lower() not in _FRAMING_HEADERS:
                self.send_header(key, value)
        if code >= 200 and code not in _NO_BODY_STATUSES:  # noqa: PLR2004 - 1xx have no body
            self.send_header("Content-Length", str(len(content)))
        if not keep:
            self.send_header("Connection", "close")  # also ends this handler's loop
        self.end_headers()
        if content and self.command != "HEAD":
            self.wfile.write(content)


class RequestBody(io.RawIOBase):
    """A request body of known length, read from the connection's stream: it ends where the
    body does, and a read of all of it is one read of that many bytes (werkzeug's stream
    gathers 64 KiB pieces and copies them twice, a large share of the emulator's CPU for a
    push's megabytes).
    """

    def __init__(self, stream: io.BufferedIOBase, length: int) -> None:
        super().__init__()
        self._stream = stream
        self._left = length

    def readable(self) -> bool:
        """Return True: this is a stream to read."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read what fits in `buffer`, up to the body's end; raise ConnectionAbortedError if
        the client went away before sending all of it.
        """
        if self._left <= 0:
            return 0
        with memoryview(buffer) as view:
            count = self._stream.readinto(view[: self._left])
        if not count:
            raise ConnectionAbortedError("the client closed the connection mid-body")
        self._left -= count
        return count

    def readall(self) -> bytes:
        """Return the rest of the body in one read; raise ConnectionAbortedError if the client
        went away before sending all of it.
        """
        if self._left <= 0:
            return b""
        data = self._stream.read(self._left)
        if len(data) < self._left:
            raise ConnectionAbortedError("the client closed the connection mid-body")
        self._left = 0
        return data


def _request_body(environ: dict[str, Any]) -> io.RawIOBase:
    """Given a request's environ, return its body as a stream that ends where the body does."""
    stream = environ["wsgi.input"]
    if isinstance(stream, DechunkedInput):  # `make_environ` wraps a chunked body so already
        return stream
    try:
        length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = 0
    return RequestBody(stream, length)


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Given a WSGI app and a request's environ, return its status, headers and whole body
    (an app's failure answers 500); raise what a dropped connection raises.
    """
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], _exc_info: Any = None) -> Any:
        started[:] = [(status, headers)]
        return None

    try:
        chunks = cast("Iterable[bytes]", app(environ, start_response))
        try:
            content = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    except DROPPED:
        raise
    except Exception:
        LOG.exception("sfsync_emulator: %s failed", environ.get("PATH_INFO"))
        started.clear()
        content = b"".join(InternalServerError()(environ, start_response))
    status, headers = started[0]
    return status, headers, content
