"""The one-shot loopback listener that receives the web flow's redirect.

It listens on <callback_port> at every address `localhost` may mean (what the resolver says, and
both loopback addresses, which browsers use for `localhost` whatever /etc/hosts says), so that
no other local user can take one of them and receive the redirect; if one is taken, it refuses
to start. It answers the browser with a short page, accepts only a
request on the callback path whose `state` matches, and gives up cleanly after a timeout. An
idle or slow connection is dropped after a few seconds and never holds up the redirect.
"""

from __future__ import annotations

import errno
import hmac
import html
import socket
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from sfsync.config.names import authorize_arguments
from sfsync.errors import AuthorizationError, UsageError
from sfsync.http_listener import MAX_CONNECTIONS, REQUEST_SECONDS, BoundedHandler, BoundedServer

LOOPBACK = ("127.0.0.1", "::1")
# The machine has no such address (no IPv6 loopback, say): nobody else can listen there either.
_ABSENT = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)
Resolve = Callable[..., list[tuple[Any, Any, Any, Any, tuple[Any, ...]]]]
_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>sfsync</title></head>"
    "<body style='font-family:sans-serif'><h1>{title}</h1><p>{text}</p></body></html>"
)


@dataclass
class CallbackOutcome:
    """What the listener has seen: the code, an error Salesforce sent, wrong states."""

    code: str | None = None
    error: str | None = None
    rejected_states: int = 0
    done: bool = field(default=False)


def judge_callback(
    target: str, path: str, state: str, outcome: CallbackOutcome
) -> tuple[int, str, str]:
    """Given a request target, the callback path and the expected state, update the outcome
    and return (HTTP status, page title, page text) for the browser.
    """
    parts = urlsplit(target)
    if parts.path != path:
        return 404, "Not found", "This is sfsync's one-shot authorization listener."
    query = {key: printable(values[0]) for key, values in parse_qs(parts.query).items()}
    if not hmac.compare_digest(query.get("state", ""), state):
        outcome.rejected_states += 1
        return 400, "Rejected", "The state does not match the authorization sfsync started."
    outcome.done = True
    if "error" in query:
        outcome.error = f"{query['error']}: {query.get('error_description', '')}".rstrip(": ")
        return 400, "Authorization failed", f"Salesforce answered {outcome.error}."
    if not query.get("code"):
        outcome.error = "the redirect carried no code"
        return 400, "Authorization failed", "The redirect carried no authorization code."
    outcome.code = query["code"]
    return 200, "sfsync is authorized", "You can close this tab and return to the terminal."


def printable(text: str) -> str:
    """Return `text` without control, format or unassigned characters (Unicode category C*):
    what the redirect carries is printed to the terminal, where an escape sequence would act.
    """
    return "".join(char for char in text if not unicodedata.category(char).startswith("C"))


def localhost_addresses(port: int, resolve: Resolve = socket.getaddrinfo) -> list[str]:
    """Return the addresses to listen on for `localhost`: both loopback addresses, then any
    other the resolver gives for it, without repeats.
    """
    resolved = [info[4][0] for info in resolve("localhost", port, type=socket.SOCK_STREAM)]
    return list(dict.fromkeys([*LOOPBACK, *resolved]))


def _shown(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class _CallbackServer(BoundedServer):
    listener: CallbackListener


class _CallbackHandler(BoundedHandler):
    server: _CallbackServer

    def do_GET(self) -> None:  # noqa: N802 - http.server dispatches on this name
        status, title, text = self.server.listener.judge(self.path)
        body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class CallbackListener:
    """Listens for one redirect; `wait()` returns the authorization code.

    Connections are served in threads of their own, each with `request_seconds` to send its
    request and at most `max_connections` at once, so an idle connection (a local user's, or a
    browser's speculative preconnect) neither blocks the real redirect nor outlasts `wait`'s
    timeout.
    """

    def __init__(
        self,
        port: int,
        path: str,
        state: str,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        request_seconds: float = REQUEST_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
        resolve: Resolve = socket.getaddrinfo,
    ) -> None:
        self.path = path
        self.state = state
        self.outcome = CallbackOutcome()
        self._monotonic = monotonic
        self._judging = threading.Lock()
        self._done = threading.Event()
        self._servers: list[_CallbackServer] = []
        self._threads: list[threading.Thread] = []
        try:
            for address in localhost_addresses(port, resolve):
                server = self._listen(address, port, request_seconds, max_connections)
                if server is not None:
                    self._servers.append(server)
                    port = int(server.server_address[1])  # the one chosen, if it was 0
        except BaseException:
            self.close()
            raise
        if not self._servers:
            raise UsageError(
                f"cannot listen on localhost:{port} for the OAuth callback: no loopback address"
            )

    def _listen(
        self, address: str, port: int, request_seconds: float, max_connections: int
    ) -> _CallbackServer | None:
        try:
            server = _CallbackServer(
                (address, port),
                _CallbackHandler,
                request_seconds=request_seconds,
                max_connections=max_connections,
            )
        except OSError as error:
            if error.errno in _ABSENT and address in LOOPBACK:
                return None
            raise UsageError(
                f"cannot listen on {_shown(address, port)} for the OAuth callback "
                f"({error.strerror}): `localhost` in the redirect URI may mean that address, so "
                "whoever holds it would receive the authorization code; free the port there "
                "or change [oauth] callback_port (and the app's callback URL)"
            ) from None
        server.listener = self
        return server

    @property
    def port(self) -> int:
        """Return the port actually listened on."""
        return int(self._servers[0].server_address[1])

    def redirect_uri(self) -> str:
        """Return the redirect URI to register and send: http://localhost:PORT/PATH."""
        return f"http://localhost:{self.port}{self.path}"

    def judge(self, target: str) -> tuple[int, str, str]:
        """Given a request target, return (HTTP status, page title, page text) for the browser,
        and end the wait if it is the redirect. Only the first redirect counts.
        """
        with self._judging:
            if self.outcome.done:
                return 409, "Already answered", "sfsync has already received its redirect."
            answer = judge_callback(target, self.path, self.state, self.outcome)
            if self.outcome.done:
                self._done.set()
            return answer

    def wait(self, timeout: float, connector: str) -> str:
        """Serve until the redirect with the right state arrives; return its code.

        Raise AuthorizationError if Salesforce sent an error or nothing came within `timeout`.
        """
        if not self._threads:
            for server in self._servers:
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.2},
                    name="oauth-callback",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        deadline = self._monotonic() + timeout
        while not self._done.is_set():
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                wrong = (
                    f" ({self.outcome.rejected_states} redirect(s) with a wrong state rejected)"
                    if self.outcome.rejected_states
                    else ""
                )
                raise AuthorizationError(
                    f"{connector}: no authorization came back to {self.redirect_uri()} within "
                    f"{timeout:g}s{wrong}; run `sfsync authorize {authorize_arguments(connector)}` "
                    f"again (over SSH, forward the port: ssh -L {self.port}:127.0.0.1:{self.port} "
                    "HOST). If the browser showed 'client identifier invalid', the org does not "
                    "know the client_id set for this environment: each org needs its own External "
                    "Client App"
                )
            self._done.wait(min(remaining, 1.0))
        if self.outcome.code is None:
            raise AuthorizationError(
                f"{connector}: authorization failed: {self.outcome.error}; "
                f"run `sfsync authorize {authorize_arguments(connector)}` again"
            )
        return self.outcome.code

    def close(self) -> None:
        """Stop listening."""
        if self._threads:
            for server in self._servers:
                server.shutdown()
            for thread in self._threads:
                thread.join(timeout=5)
            self._threads.clear()
        for server in self._servers:
            server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
