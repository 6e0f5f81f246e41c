"""Telling systemd how the service is doing (sd_notify(3)) over $NOTIFY_SOCKET.

Written here rather than taken from a library: the protocol is one datagram per message, and
the packages that wrap it are either unmaintained or need libsystemd at build time.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Mapping


class Notifier:
    """Sends sd_notify messages; does nothing when not started by systemd (no NOTIFY_SOCKET)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        # "@name" is Linux's abstract namespace, spelled with a leading NUL on the wire.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket: socket.socket | None = None
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        watchdog_usec = environ.get("WATCHDOG_USEC", "")
        watchdog_pid = environ.get("WATCHDOG_PID", "")
        for_us = not watchdog_pid or watchdog_pid == str(os.getpid())
        self.watchdog_seconds: float | None = (
            int(watchdog_usec) / 1_000_000 if watchdog_usec.isdigit() and for_us else None
        )

    @property
    def enabled(self) -> bool:
        """Return whether systemd is listening."""
        return self._socket is not None

    def send(self, *fields: str) -> None:
        """Send one message made of KEY=VALUE fields; a lost message is not worth crashing for."""
        if self._socket is None:
            return
        with contextlib.suppress(OSError):
            self._socket.sendto("\n".join(fields).encode(), self._address)

    def ready(self, status: str) -> None:
        """Tell systemd start-up (or a reload) is complete."""
        self.send("READY=1", f"STATUS={status}")

    def reloading(self) -> None:
        """Tell systemd a reload has begun (with the monotonic time systemd 253+ expects)."""
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self) -> None:
        """Tell systemd the service is shutting down."""
        self.send("STOPPING=1", "STATUS=stopping")

    def status(self, text: str) -> None:
        """Set the one-line status `systemctl status` shows."""
        self.send(f"STATUS={text}")

    def watchdog(self) -> None:
        """Tell systemd the service is alive."""
        self.send("WATCHDOG=1")

    def close(self) -> None:
        """Close the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
