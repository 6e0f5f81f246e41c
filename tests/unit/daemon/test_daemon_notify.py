"""sd_notify messages to systemd: the address, the datagrams, and the watchdog settings.

tests/unit refuses every socket, AF_UNIX included (`disable_socket(allow_unix_socket=False)`
in tests/unit/conftest.py), and socket.socketpair is refused with it. So these tests give the
notify module a recording datagram socket in place of `socket.socket` (only that module's name
is rebound) and check the exact bytes and address each message is sent with.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from sfsync.daemon import notify
from sfsync.daemon.notify import Notifier

PATH_ADDRESS = "/run/systemd/notify"


class RecordingSocket:
    """An AF_UNIX datagram socket that keeps what was sent instead of sending it."""

    def __init__(self, family: int, kind: int) -> None:
        self.family = family
        self.kind = kind
        self.sent: list[tuple[bytes, str]] = []
        self.closed = False
        self.refusal: OSError | None = None

    def sendto(self, data: bytes, address: str) -> int:
        """Record one datagram, or raise the refusal a vanished listener would cause."""
        if self.closed:
            raise OSError(9, "Bad file descriptor")
        if self.refusal is not None:
            raise self.refusal
        self.sent.append((data, address))
        return len(data)

    def close(self) -> None:
        """Mark the socket closed."""
        self.closed = True


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> list[RecordingSocket]:
    """Every socket the notify module opens during the test, as RecordingSockets."""
    opened: list[RecordingSocket] = []

    def open_socket(family: int, kind: int) -> RecordingSocket:
        opened.append(RecordingSocket(family, kind))
        return opened[-1]

    stand_in = SimpleNamespace(
        AF_UNIX=socket.AF_UNIX,
        SOCK_DGRAM=socket.SOCK_DGRAM,
        SOCK_CLOEXEC=socket.SOCK_CLOEXEC,
        socket=open_socket,
    )
    monkeypatch.setattr(notify, "socket", stand_in)
    return opened


def sent(sockets: list[RecordingSocket]) -> list[tuple[bytes, str]]:
    """Return the datagrams sent through the one socket the Notifier opened."""
    [only] = sockets
    return only.sent


EVERY_MESSAGE: list[Callable[[Notifier], None]] = [
    lambda notifier: notifier.ready("up"),
    Notifier.reloading,
    Notifier.stopping,
    lambda notifier: notifier.status("2 systems"),
    Notifier.watchdog,
    lambda notifier: notifier.send("X=1"),
]


@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}, {"WATCHDOG_USEC": "30000000"}])
def test_without_notify_socket_every_message_is_a_no_op(
    sockets: list[RecordingSocket], environ: dict[str, str]
) -> None:
    """Not started by systemd: disabled, no socket opened, and every message does nothing."""
    notifier = Notifier(environ)
    assert not notifier.enabled
    for message in EVERY_MESSAGE:
        message(notifier)
    notifier.close()
    assert sockets == []


def test_reads_the_process_environment_by_default(
    sockets: list[RecordingSocket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an explicit environment, NOTIFY_SOCKET comes from os.environ."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier().enabled
    monkeypatch.setenv("NOTIFY_SOCKET", PATH_ADDRESS)
    notifier = Notifier()
    assert notifier.enabled
    notifier.watchdog()
    assert sent(sockets) == [(b"WATCHDOG=1", PATH_ADDRESS)]


@pytest.mark.parametrize(
    ("configured", "wire_address"),
    [
        ("/run/systemd/notify", "/run/systemd/notify"),
        ("/run/user/1000/systemd/notify", "/run/user/1000/systemd/notify"),
        ("@/org/freedesktop/systemd1/notify/123", "\0/org/freedesktop/systemd1/notify/123"),
        ("@sfsync", "\0sfsync"),
    ],
)
def test_messages_go_to_the_configured_address(
    sockets: list[RecordingSocket], configured: str, wire_address: str
) -> None:
    """A path is used as it is; "@name" is the abstract address with a leading NUL. The socket
    is an AF_UNIX datagram socket closed on exec.
    """
    notifier = Notifier({"NOTIFY_SOCKET": configured})
    assert notifier.enabled
    notifier.watchdog()
    [opened] = sockets
    assert opened.family == socket.AF_UNIX
    assert opened.kind == socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
    assert opened.sent == [(b"WATCHDOG=1", wire_address)]


@pytest.mark.parametrize(
    ("message", "datagram"),
    [
        (
            lambda notifier: notifier.ready("watching 2 systems"),
            b"READY=1\nSTATUS=watching 2 systems",
        ),
        (Notifier.stopping, b"STOPPING=1\nSTATUS=stopping"),
        (Notifier.watchdog, b"WATCHDOG=1"),
        (
            lambda notifier: notifier.status("pushed lightning/prod"),
            b"STATUS=pushed lightning/prod",
        ),
        (lambda notifier: notifier.status("caf\u00e9"), b"STATUS=caf\xc3\xa9"),
        (lambda notifier: notifier.send("A=1", "B=2", "C=3"), b"A=1\nB=2\nC=3"),
    ],
)
def test_each_message_is_one_datagram_of_newline_separated_fields(
    sockets: list[RecordingSocket], message: Callable[[Notifier], None], datagram: bytes
) -> None:
    """Each call sends exactly one UTF-8 datagram with its KEY=VALUE fields, one per line."""
    notifier = Notifier({"NOTIFY_SOCKET": PATH_ADDRESS})
    message(notifier)
    assert sent(sockets) == [(datagram, PATH_ADDRESS)]


def test_reloading_carries_the_monotonic_time_in_microseconds(
    sockets: list[RecordingSocket],
) -> None:
    """RELOADING=1 comes with MONOTONIC_USEC, an integer count of CLOCK_MONOTONIC microseconds
    taken at the call (systemd 253+ requires it for Type=notify-reload).
    """
    notifier = Notifier({"NOTIFY_SOCKET": PATH_ADDRESS})
    before = time.monotonic_ns() // 1000
    notifier.reloading()
    after = time.monotonic_ns() // 1000
    [(datagram, _)] = sent(sockets)
    first, second = datagram.decode().split("\n")
    assert first == "RELOADING=1"
    key, _, value = second.partition("=")
    assert key == "MONOTONIC_USEC"
    assert value.isdigit()
    assert before <= int(value) <= after


@pytest.mark.parametrize(
    "refusal",
    [
        FileNotFoundError(2, "No such file or directory"),  # the socket file was removed
        ConnectionRefusedError(111, "Connection refused"),  # nobody listens on it any more
        BlockingIOError(11, "Resource temporarily unavailable"),  # systemd's queue is full
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_send_that_fails_is_dropped_without_raising(
    sockets: list[RecordingSocket], refusal: OSError
) -> None:
    """A message to a socket that has vanished is lost quietly; the next one is still sent."""
    notifier = Notifier({"NOTIFY_SOCKET": PATH_ADDRESS})
    [opened] = sockets
    opened.refusal = refusal
    notifier.ready("up")
    notifier.watchdog()
    opened.refusal = None
    notifier.watchdog()
    assert opened.sent == [(b"WATCHDOG=1", PATH_ADDRESS)]


def test_close_closes_the_socket_and_disables(sockets: list[RecordingSocket]) -> None:
    """After close, the socket is closed, the notifier disabled and messages are no-ops; a
    second close is harmless.
    """
    notifier = Notifier({"NOTIFY_SOCKET": PATH_ADDRESS})
    notifier.close()
    notifier.stopping()
    notifier.close()
    [opened] = sockets
    assert opened.closed
    assert not notifier.enabled
    assert opened.sent == []


@pytest.mark.parametrize(
    ("environ", "seconds"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "1500000"}, 1.5),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": ""}, None),
        ({"WATCHDOG_USEC": "thirty"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "1.5"}, None),
        ({"WATCHDOG_PID": str(os.getpid())}, None),
    ],
)
def test_watchdog_interval_is_read_only_when_meant_for_this_process(
    environ: dict[str, str], seconds: float | None
) -> None:
    """WATCHDOG_USEC becomes seconds when it is a whole number and WATCHDOG_PID is absent or
    names this process; otherwise there is no watchdog to ping.
    """
    assert Notifier(environ).watchdog_seconds == seconds
