"""The site of the cycle's and the daemon check's in-process tests: two emulated orgs over
HTTPS, a drop folder, a real SQLite state store in tmp_path and an in-memory token store.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from sfsync.auth_wiring import AuthDeps
from sfsync.config import LoadedConfig, parse_config
from sfsync.daemon.check import SystemChecks
from sfsync.daemon.metrics import Metrics
from sfsync.daemon.observers import Observers
from sfsync.http_session import HttpSettings, new_http_session
from sfsync.salesforce.retry import RetryPolicy
from sfsync.sync.cycle import ConnectorResult
from sfsync.sync.runtime import SyncRuntime, open_runtime
from sfsync.tokens.memory import MemoryTokenStore
from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.in_process import authorized_tokens
from tests.fixtures.site import config_head

CLIENT = "sfsync-integration"
SYSTEM = "lightning"
RESOURCE = "WalkMeLightning"
ENVIRONMENTS = ("one", "two")
# Time enough for every test; the clocks below are moved by hand.
START = 1_900_000_000.0


def package(text: str) -> bytes:
    """Given a line of content, return a small published package holding it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("settings.json", '{"active": true}')
        archive.writestr("content/app.js", f"// {text}\n")
    return buffer.getvalue()


def served_text(org: OrgHandle) -> str | None:
    """Given an org, return the content line its Static Resource serves (None: none yet)."""
    resource = org.static_resources.get(RESOURCE)
    if resource is None:
        return None
    with zipfile.ZipFile(io.BytesIO(resource.body)) as archive:
        return archive.read("content/app.js").decode().removeprefix("// ").strip()


@dataclass
class Clock:
    """A hand-moved wall clock (epoch seconds) and monotonic clock."""

    now: float = START
    ticks: float = 0.0

    def epoch(self) -> float:
        """Return the wall clock."""
        return self.now

    def monotonic(self) -> float:
        """Return the monotonic clock."""
        return self.ticks

    def advance(self, seconds: float) -> None:
        """Move both clocks on."""
        self.now += seconds
        self.ticks += seconds


@dataclass
class Site:
    """Two connectors of one system, each pushing to its own emulated org."""

    loaded: LoadedConfig
    orgs: dict[str, OrgHandle]  # by connector name
    drop: Path
    tokens: MemoryTokenStore
    clock: Clock = field(default_factory=Clock)

    def publish(self, name: str, text: str, *, age: float = 3600.0) -> Path:
        """Write a package into the drop folder, last modified `age` seconds before now."""
        path = self.drop / name
        path.write_bytes(package(text))
        when = self.clock.now - age
        os.utime(path, (when, when))
        return path

    def requests_made(self) -> dict[str, int]:
        """Return how many requests each org has answered so far."""
        return {name: len(org.request_log) for name, org in self.orgs.items()}


def write_site(tmp_path: Path, emu: Emulator, settle: str) -> Site:
    """Given a running emulator, return a site whose drop folder settles after `settle`."""
    drop = tmp_path / "drop"
    drop.mkdir()
    lines = [
        *config_head(tmp_path, CLIENT, emu.ca_path),
        f"[systems.{SYSTEM}]",
        f'resource = "{RESOURCE}"',
        f'source = {{ type = "dir", path = "{drop}", settle = "{settle}" }}',
    ]
    orgs = {}
    for environment in ENVIRONMENTS:
        org = emu.add_org(name=environment, deploy_seconds=0.0)
        lines += [
            f"[systems.{SYSTEM}.environments.{environment}]",
            f'login_url = "{org.instance_url}"',
        ]
        orgs[f"{SYSTEM}/{environment}"] = org
    config = tmp_path / "sfsync.toml"
    config.write_text("\n".join(lines) + "\n")
    tokens = authorized_tokens(orgs, CLIENT)
    return Site(parse_config(config.read_text(), config), orgs, drop, tokens)


@dataclass
class Daemon:
    """The daemon's checks over a runtime, their results and the checks they scheduled."""

    checks: SystemChecks
    runtime: SyncRuntime
    results: list[ConnectorResult]
    scheduled: list[float]  # seconds until the next check, as asked

    def check(self) -> list[ConnectorResult]:
        """Run one check of the system; return the results it reported."""
        self.results.clear()
        self.checks.check(SYSTEM)
        return list(self.results)


@contextmanager
def site_runtime(
    site: Site,
    on_result: Callable[[ConnectorResult], None] | None = None,
    on_response: Callable[[str, requests.Response], None] | None = None,
) -> Iterator[SyncRuntime]:
    """Given a site, open its runtime on the site's clock and tokens and a fresh state store."""
    config = site.loaded.config
    auth = AuthDeps(site.loaded, site.tokens, new_http_session(HttpSettings.from_config(config)))
    with open_runtime(
        site.loaded,
        on_result=on_result,
        on_response=on_response,
        auth=auth,
        retry=RetryPolicy(attempts=1),
        epoch=site.clock.epoch,
    ) as runtime:
        yield runtime


@contextmanager
def daemon_checks(site: Site) -> Iterator[Daemon]:
    """Given a site, yield the daemon's checks of it over a runtime, without a scheduler:
    what they report and schedule is noted.
    """
    observers = Observers(site.loaded, Metrics(), epoch=site.clock.epoch)
    results: list[ConnectorResult] = []
    scheduled: list[float] = []

    def on_result(result: ConnectorResult) -> None:
        results.append(result)
        observers.on_result(result)

    with site_runtime(site, on_result, observers.on_response) as runtime:
        checks = SystemChecks(
            site.loaded,
            runtime,
            observers,
            lambda _system, delay: scheduled.append(delay),
            draw=lambda: 0.5,
            release_memory=lambda: None,
            monotonic=site.clock.monotonic,
            epoch=site.clock.epoch,
        )
        yield Daemon(checks, runtime, results, scheduled)
