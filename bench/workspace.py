"""An sfsync installation wired to emulated orgs for one benchmark row: the config, the
authorizations in the keyring (written through sfsync's own token store, as `sfsync authorize`
leaves them), a drop folder, and the real CLI or the real daemon as subprocesses.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from common import cpu_seconds, memory_mb, wait_until
from secret_service import BACKEND
from sfsync.config.schema import KeyringSettings
from sfsync.ports import unused_loopback_port
from sfsync.tokens.backends import open_backend
from sfsync.tokens.keyring_store import KeyringTokenStore
from sfsync.tokens.record import StoredAuthorization
from sfsync_emulator import Emulator, OrgHandle

CLIENT_ID = "sfsync-bench"
RESOURCE = "WalkMeBench"
SFSYNC = Path(sys.executable).with_name("sfsync")
# The shipped unit's WatchdogSec=2min: the daemon pings every 5 s, as in production.
WATCHDOG_USEC = "120000000"
UNIT = Path(__file__).resolve().parents[1] / "systemd" / "sfsync.service"
# The CLI and the daemon import this checkout's code, wherever the venv's editable install
# points (as the tests' `cli_env` does).
CODE = Path(__file__).resolve().parents[1] / "daemon"


def unit_environment(unit: Path = UNIT) -> dict[str, str]:
    """Return the variables the shipped unit sets (its Environment= lines), so the benchmark's
    daemon runs as systemd runs it (MALLOC_ARENA_MAX changes its memory figures).
    """
    variables: dict[str, str] = {}
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").partition("=")
            variables[name] = value
    return variables


def start_emulator(latency: float) -> Emulator:
    """Return a started emulator adding `latency` seconds to every request, with the
    benchmark's client registered. The caller stops it.
    """
    emulator = Emulator(latency=latency)
    emulator.start()
    emulator.register_client(CLIENT_ID, ["http://localhost:1717/OAuthCallback"])
    return emulator


@dataclass
class Workspace:
    """One system with one environment per org, its config file, drop folder and keyring."""

    root: Path
    emu: Emulator
    system: str
    orgs: dict[str, OrgHandle]  # connector name -> org
    config: Path
    drop: Path
    env: dict[str, str]
    keyring: KeyringSettings

    @property
    def connectors(self) -> list[str]:
        """Return the connector names, in config order."""
        return list(self.orgs)

    def token_store(self) -> KeyringTokenStore:
        """Return sfsync's own token store over the keyring the daemon will read."""
        return KeyringTokenStore(open_backend(self.keyring, self.env))

    def authorize_all(self) -> None:
        """Store an authorization for every connector, as `sfsync authorize` leaves it."""
        store = self.token_store()
        now = datetime.now(UTC).isoformat()
        for connector, org in self.orgs.items():
            _, refresh = org.issue_session(CLIENT_ID)
            user = org.default_user.user_id
            store.put(
                connector,
                StoredAuthorization(
                    flow="web",
                    instance_url=org.instance_url,
                    identity_url=f"{org.instance_url}/id/{org.org_id}/{user}",
                    login_url=org.instance_url,
                    client_id=CLIENT_ID,
                    issued_at=now,
                    refreshed_at=now,
                    refresh_token=refresh,
                ),
            )

    def sync(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run `sfsync sync` (one cycle) and return the finished process."""
        return subprocess.run(
            [str(SFSYNC), "--config", str(self.config), "sync", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def start_daemon(self) -> Daemon:
        """Start `sfsync run` under a stand-in for systemd's notify socket, with the
        environment the shipped unit sets.
        """
        notify = NotifySocket()
        env = {
            **self.env,
            **unit_environment(),
            "NOTIFY_SOCKET": notify.name,
            "WATCHDOG_USEC": WATCHDOG_USEC,
        }
        log_path = self.root / f"daemon-{uuid.uuid4().hex[:8]}.log"
        with log_path.open("w") as log_file:
            process = subprocess.Popen(
                [str(SFSYNC), "--config", str(self.config), "run"],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Daemon(process, notify, log_path, time.monotonic())

    def written_since(self, started: float) -> dict[str, float]:
        """Return connector -> when its org last stored the resource, for those written at
        or after `started` (wall-clock seconds, the emulator's clock).
        """
        stamps = {}
        for connector, org in self.orgs.items():
            resource = org.static_resources.get(RESOURCE)
            if resource is not None and resource.system_modstamp >= started:
                stamps[connector] = resource.system_modstamp
        return stamps

    def wait_all_written(self, started: float, timeout: float, step: float = 0.05) -> float:
        """Wait until every org stored the resource after `started`; return the last write's
        time minus `started`.
        """
        stamps: dict[str, float] = {}

        def all_written() -> bool:
            stamps.update(self.written_since(started))
            return len(stamps) == len(self.orgs)

        wait_until(all_written, timeout, f"{len(self.orgs)} orgs to hold the new package", step)
        return max(stamps.values()) - started

    def api_calls(self) -> int:
        """Return the API calls (REST, Tooling, Metadata, SOAP) every org has answered so far."""
        apis = ("rest", "tooling", "metadata", "soap")
        return sum(org.count(api=api) for org in self.orgs.values() for api in apis)


def make_workspace(
    root: Path,
    emu: Emulator,
    count: int,
    *,
    system: str,
    keyring_env: Mapping[str, str],
    keyring: KeyringSettings | None = None,
    apis: Sequence[str] = ("tooling",),
    concurrency: int = 8,
    settle: str = "0s",
    deploy_seconds: float = 0.3,
) -> Workspace:
    """Create `count` orgs and an sfsync config with one environment per org (`apis` cycles
    over them), then return the workspace; nothing is authorized yet.
    """
    root.mkdir(parents=True, exist_ok=True)
    drop = root / "drop"
    drop.mkdir(exist_ok=True)
    ca_copy = root / "emulator-ca.pem"
    ca_copy.write_bytes(emu.ca_path.read_bytes())
    keyring = keyring or KeyringSettings(backend=BACKEND)
    orgs: dict[str, OrgHandle] = {}
    lines = [
        "[daemon]",
        f'state_dir = "{root / "state"}"',
        f'metrics_listen = "127.0.0.1:{unused_loopback_port()}"',
        f"concurrency = {concurrency}",
        "[oauth]",
        f'client_id = "{CLIENT_ID}"',
        f'ca_bundle = "{ca_copy}"',
        "[salesforce]",
        'timeout = "60s"',
        "[keyring]",
        f'backend = "{keyring.backend}"',
    ]
    if keyring.cryptfile_path is not None:
        lines.append(f'cryptfile_path = "{keyring.cryptfile_path}"')
    lines += [
        f"[systems.{system}]",
        f'resource = "{RESOURCE}"',
        f'source = {{ type = "dir", path = "{drop}", settle = "{settle}" }}',
    ]
    for index in range(count):
        environment = f"env{index:03}"
        org = emu.add_org(name=f"{system}-{environment}", deploy_seconds=deploy_seconds)
        orgs[f"{system}/{environment}"] = org
        lines += [
            f"[systems.{system}.environments.{environment}]",
            f'login_url = "{org.instance_url}"',
            f'api = "{apis[index % len(apis)]}"',
        ]
    config = root / "sfsync.toml"
    config.write_text("\n".join(lines) + "\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(CODE),
        **keyring_env,
    }
    return Workspace(root, emu, system, orgs, config, drop, env, keyring)


class NotifySocket:
    """An abstract-namespace datagram socket collecting sd_notify messages, as systemd does."""

    def __init__(self) -> None:
        self.name = f"@sfsync-bench-{uuid.uuid4().hex}"
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind("\0" + self.name[1:])
        self._socket.settimeout(0.2)
        self.messages: list[dict[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._socket.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            lines = data.decode().splitlines()
            self.messages.append(dict(line.split("=", 1) for line in lines if "=" in line))

    def seen(self, key: str, value: str) -> bool:
        """Return whether a message carried KEY=VALUE."""
        return any(message.get(key) == value for message in list(self.messages))

    def close(self) -> None:
        """Stop reading and close the socket."""
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()


@dataclass
class Daemon:
    """`sfsync run` in the background."""

    process: subprocess.Popen[bytes]
    notify: NotifySocket
    log_path: Path
    started: float
    ready_seconds: float | None = field(default=None)

    def wait_ready(self, timeout: float) -> float:
        """Wait for READY=1; return the seconds from start to READY."""

        def ready() -> bool:
            if self.process.poll() is not None:
                tail = self.log_path.read_text()[-2000:]
                raise RuntimeError(f"sfsync run exited with {self.process.returncode}: {tail}")
            return self.notify.seen("READY", "1")

        wait_until(ready, timeout, "the daemon's READY=1")
        self.ready_seconds = time.monotonic() - self.started
        return self.ready_seconds

    def cpu_seconds(self) -> float:
        """Return the CPU seconds the daemon has used so far."""
        return cpu_seconds(self.process.pid)

    def memory_mb(self) -> tuple[float, float]:
        """Return the daemon's (current RSS, peak RSS) in MB."""
        return memory_mb(self.process.pid)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM the daemon and wait; SIGKILL its process group if it hangs."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(timeout=10)
        finally:
            self.notify.close()
