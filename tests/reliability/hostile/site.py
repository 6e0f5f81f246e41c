"""An sfsync installation with two systems on two emulated orgs, for the hostile-input tests.

`alpha` receives the hostile packages, `beta` good ones; each has its own drop folder, Static
Resource and org, so an org's request log shows exactly what reached it. Tokens live in a real
cryptfile keyring, and the real CLI (or daemon) runs as a subprocess.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sfsync.config.schema import KeyringSettings
from sfsync.tokens.backends import open_backend
from sfsync.tokens.keyring_store import KeyringTokenStore
from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.daemon_support import Daemon, launch, use_metrics_port
from tests.fixtures.site import CLIENT_ID, Site, authorization, cli_env
from tests.reliability.hostile.corpus import good_package, site_config

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
        return Site(self.root, self.config, self.root / "state", self.env, []).run(
            *args, timeout=timeout
        )

    def authorize(self, system: str) -> None:
        """Store a refresh token for `system/sandbox`, as `sfsync authorize` leaves it."""
        settings = KeyringSettings(backend="cryptfile", cryptfile_path=self.keyring_file)
        backend = open_backend(settings, {"SFSYNC_KEYRING_PASSPHRASE": PASSPHRASE})
        KeyringTokenStore(backend).put(f"{system}/sandbox", authorization(self.orgs[system]))

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


def start_daemon(site: TwoSystemSite) -> Daemon:
    """Start `sfsync run` for the site with /healthz on a free loopback port."""
    return launch(site.config, site.env, use_metrics_port(site.config))
