"""An sfsync installation wired to emulated orgs for one benchmark row: the config, the
authorizations in the keyring (written through sfsync's own token store, as `sfsync authorize`
leaves them), a drop folder, and the real CLI or the real daemon as subprocesses.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sfsync.config.schema import KeyringSettings
from sfsync.ports import unused_loopback_port
from sfsync.tokens.backends import open_backend
from sfsync.tokens.keyring_store import KeyringTokenStore
from sfsync.tokens.record import SERVICE
from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.daemon_support import Daemon, launch
from tests.fixtures.secret_service import BACKEND
from tests.fixtures.site import Site, authorization
from tests.fixtures.wait import wait_until

CLIENT_ID = "sfsync-bench"
RESOURCE = "WalkMeBench"
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
    port: int  # of the daemon's /metrics and /healthz

    @property
    def connectors(self) -> list[str]:
        """Return the connector names, in config order."""
        return list(self.orgs)

    def token_store(self) -> KeyringTokenStore:
        """Return sfsync's own token store over the keyring the daemon will read."""
        return KeyringTokenStore(open_backend(self.keyring, self.env))

    def authorize_all(self) -> None:
        """Store an authorization for every connector, as `sfsync authorize` leaves it: in one
        rewrite of the file on the cryptfile (10,000 one-by-one writes would rewrite a growing
        file 10,000 times), one entry at a time elsewhere.
        """
        now = datetime.now(UTC).isoformat()
        records = {
            connector: dataclasses.replace(
                authorization(org, CLIENT_ID), issued_at=now, refreshed_at=now
            )
            for connector, org in self.orgs.items()
        }
        backend = open_backend(self.keyring, self.env)
        bulk = getattr(backend, "set_passwords", None)
        if bulk is not None:
            bulk(SERVICE, {connector: record.to_json() for connector, record in records.items()})
            return
        store = KeyringTokenStore(backend)
        for connector, record in records.items():
            store.put(connector, record)

    def sync(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run `sfsync sync` (one cycle) and return the finished process."""
        site = Site(self.root, self.config, self.root / "state", self.env, [])
        return site.run("sync", *args, timeout=timeout)

    def start_daemon(self) -> Daemon:
        """Start `sfsync run` under a stand-in for systemd's notify socket, with the
        environment the shipped unit sets.
        """
        env = {**self.env, **unit_environment(), "WATCHDOG_USEC": WATCHDOG_USEC}
        return launch(self.config, env, self.port)

    def written_since(
        self, started: float, connectors: Collection[str] | None = None
    ) -> dict[str, float]:
        """Return connector -> when its org last stored the resource, for those written at
        or after `started` (wall-clock seconds, the emulator's clock), among `connectors`
        (None: all).
        """
        stamps = {}
        for connector, org in self.orgs.items():
            if connectors is not None and connector not in connectors:
                continue
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
            # Only the orgs not written yet are looked at: this poll runs in the emulator's
            # process and is counted as its CPU (a look at 200 orgs costs about 1 ms, and
            # row 3 looks 20 times a second).
            pending = set(self.orgs) - set(stamps)
            stamps.update(self.written_since(started, pending))
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
    port = unused_loopback_port()
    lines = [
        "[daemon]",
        f'state_dir = "{root / "state"}"',
        f'metrics_listen = "127.0.0.1:{port}"',
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
    return Workspace(root, emu, system, orgs, config, drop, env, keyring, port)
