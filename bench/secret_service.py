"""A Secret Service (GNOME Keyring on a private D-Bus session bus) for the benchmark's
daemons: the cryptfile backend spends about a second of Argon2 per read, which a daemon with
200 connectors cannot wait for at every start (that cost is measured on its own, in row K).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

KEYRING_PASSWORD = "bench-keyring-password"  # noqa: S105 - a throwaway keyring's password
BACKEND = "keyring.backends.SecretService.Keyring"


def available() -> bool:
    """Return whether dbus-daemon and gnome-keyring-daemon are installed (`make system-deps`)."""
    return bool(shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon"))


@contextmanager
def secret_service(home: Path) -> Iterator[dict[str, str]]:
    """Start a private session bus and an unlocked GNOME Keyring on it; yield the variables a
    client needs (HOME, XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS); stop both by pid after.
    """
    runtime_dir = home / "run"
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime_dir)}
    started = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=20,
    )
    address, bus_pid = started.stdout.split()[:2]
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    keyring_pid: int | None = None
    try:
        subprocess.run(
            ["gnome-keyring-daemon", "--unlock", "--components=secrets", "--daemonize"],
            input=KEYRING_PASSWORD,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        )
        keyring_pid = _wait_for_secrets(env)
        yield {
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(runtime_dir),
            "DBUS_SESSION_BUS_ADDRESS": address,
        }
    finally:
        for pid in (keyring_pid, int(bus_pid)):
            if pid is not None:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)


def _wait_for_secrets(env: Mapping[str, str]) -> int:
    """Wait until org.freedesktop.secrets answers on the bus; return the keyring's pid."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.GetConnectionUnixProcessID",
                "string:org.freedesktop.secrets",
            ],
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
        if answer.returncode == 0:
            return int(answer.stdout.split()[-1])
        time.sleep(0.05)
    raise RuntimeError("the Secret Service did not come up on the benchmark's bus")
