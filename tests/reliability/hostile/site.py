"""An sfsync installation with two systems on two emulated orgs, for the hostile-input tests.

`alpha` receives the hostile packages, `beta` good ones; each has its own drop folder, Static
Resource and org, so an org's request log shows exactly what reached it. Tokens live in a real
cryptfile keyring, and the real CLI (or daemon) runs as a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auth_support import CLIENT_ID, SFSYNC, cli_env

from hostile.corpus import good_package, site_config
from sfsync.config.schema import KeyringSettings
from sfsync.ports import unused_loopback_port
from sfsync.tokens.backends import open_backend
from sfsync.tokens.keyring_store import KeyringTokenStore
from sfsync.tokens.record import StoredAuthorization
from sfsync_emulator import Emulator, OrgHandle

PASSPHRASE = "hostile-input-passphrase"
SYSTEMS = ("alpha", "beta")
RESOURCES = {"alpha": "HostileAlpha", "beta": "HostileBeta"}


@dataclass
class TwoSystemSite:
    """Two systems (`alpha`, `beta`), one sandbox environment each, on their own orgs."""

    root: Path
    orgs: dict[str, OrgHandle]
    config: Path
    drops: dict[str, Path]
    keyring_file: Path
    env: dict[str, str]
    good_versions: list[int] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the real CLI with this site's config."""
        return subprocess.run(
            [str(SFSYNC), "--config", str(self.config), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def authorize(self, system: str) -> None:
        """Store a refresh token for `system/sandbox`, as `sfsync authorize` leaves it."""
        org = self.orgs[system]
        _, refresh = org.issue_session(CLIENT_ID)
        record = StoredAuthorization(
            flow="web",
            instance_url=org.instance_url,
            identity_url=f"{org.instance_url}/id/{org.org_id}/{org.default_user.user_id}",
            login_url=org.instance_url,
            client_id=CLIENT_ID,
            issued_at=str(int(datetime.now(UTC).timestamp() * 1000)),
            refresh_token=refresh,
        )
        settings = KeyringSettings(backend="cryptfile", cryptfile_path=self.keyring_file)
        backend = open_backend(settings, {"SFSYNC_KEYRING_PASSPHRASE": PASSPHRASE})
        KeyringTokenStore(backend).put(f"{system}/sandbox", record)

    def clear(self, system: str) -> None:
        """Empty a system's drop folder (FIFOs, links and folders included)."""
        drop = self.drops[system]
        shutil.rmtree(drop)
        drop.mkdir()

    def publish_good(self, version: int) -> None:
        """Publish a good package into beta's folder as publishers do: NAME.zip.part, then a
        rename. Names sort by version, so a tie in mtime still picks the newest; the mtime is
        never moved into the future, which a zero settle time would read as still settling.
        """
        part = self.drops["beta"] / f"good-{version:05d}.zip.part"
        part.write_bytes(good_package(version))
        part.rename(part.with_suffix(""))
        self.good_versions.append(version)

    def served_version(self, system: str) -> int | None:
        """Return the `version` in the settings of what the system's org serves, or None."""
        resource = self.orgs[system].static_resources.get(RESOURCES[system])
        if resource is None:
            return None
        with zipfile.ZipFile(io.BytesIO(resource.body)) as archive:
            return int(json.loads(archive.read("settings.json"))["version"])

    def pushes(self, system: str) -> int:
        """Return how many bodies the system's Static Resource has held."""
        resource = self.orgs[system].static_resources.get(RESOURCES[system])
        return 0 if resource is None else len(resource.history)

    def requests(self, system: str) -> int:
        """Return how many requests (OAuth included) the system's org has answered."""
        return len(self.orgs[system].request_log)


def two_system_site(root: Path, emu: Emulator) -> TwoSystemSite:
    """Return a TwoSystemSite under `root` with a fresh org per system (not yet authorized)."""
    tag = uuid.uuid4().hex[:6]  # org names are unique within an emulator
    orgs = {system: emu.add_org(name=f"hostile-{system}-{tag}") for system in SYSTEMS}
    drops = {system: root / f"drop-{system}" for system in SYSTEMS}
    for drop in drops.values():
        drop.mkdir(parents=True)
    keyring_file = root / "keyring" / "sfsync.cfg"
    keyring_file.parent.mkdir(mode=0o700)
    ca_copy = root / "emulator-ca.pem"
    ca_copy.write_bytes(emu.ca_path.read_bytes())
    config = root / "sfsync.toml"
    config.write_text(
        site_config(
            state_dir=str(root / "state"),
            drops=(str(drops["alpha"]), str(drops["beta"])),
            login_urls=(orgs["alpha"].instance_url, orgs["beta"].instance_url),
            client_id=CLIENT_ID,
            ca_bundle=str(ca_copy),
            keyring_file=str(keyring_file),
        )
    )
    env = cli_env({"SFSYNC_KEYRING_PASSPHRASE": PASSPHRASE, "HOME": str(root / "home")})
    return TwoSystemSite(root, orgs, config, drops, keyring_file, env)


@dataclass
class Daemon:
    """`sfsync run` for a TwoSystemSite, logging JSON lines to a file."""

    process: subprocess.Popen[str]
    port: int
    log_path: Path

    def log_lines(self) -> list[dict[str, Any]]:
        """Return the daemon's log so far, one dict per line (`unparsed` marks a non-JSON line)."""
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                lines.append({"event": raw, "unparsed": True})
        return lines

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM the daemon (if it still runs) and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """Make sure the daemon is gone (its own process group, by id)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def start_daemon(site: TwoSystemSite) -> Daemon:
    """Start `sfsync run` for the site with /healthz on a free loopback port."""
    port = unused_loopback_port()
    site.config.write_text(
        site.config.read_text().replace(
            'metrics_listen = ""', f'metrics_listen = "127.0.0.1:{port}"'
        )
    )
    log_path = site.root / f"daemon-{uuid.uuid4().hex[:8]}.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [str(SFSYNC), "--config", str(site.config), "run"],
            env=site.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    return Daemon(process, port, log_path)
