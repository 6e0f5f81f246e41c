"""Pick a loopback port for a listener the caller starts a moment later (demo, tests)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 20000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def unused_loopback_port() -> int:
    """Return a 127.0.0.1 TCP port nobody is bound to right now, below the ephemeral range.

    A port the kernel hands out for `bind(0)` comes from the ephemeral range, so between the
    probe and the caller's own bind any outgoing connection may take it as its source port (a
    test run opens thousands). Below that range only an explicit bind takes a port.
    """
    candidates = range(LOWEST, max(LOWEST, _ephemeral_low()))
    for port in random.sample(candidates, min(len(candidates), 200)):  # not a secret  # nosec B311
        if _bindable(port):
            return port
    with socket.socket() as probe:  # an odd kernel range: fall back to what the kernel picks
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default low end


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
