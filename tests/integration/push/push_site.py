"""A Pusher in this process against the emulator over HTTPS: a real SQLite state store and kept
builds in a temporary directory, tokens in memory, a clock the test moves, and no waiting
between retries.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from sfsync.config import Connector
from sfsync.config.schema import DirSource
from sfsync.package.build import BuiltPackage
from sfsync.package.zipwrite import move_central
from sfsync.salesforce.limits import ApiUsage
from sfsync.salesforce.retry import RetryPolicy
from sfsync.salesforce.session import ConnectorSession
from sfsync.state.packages import PackageArchive
from sfsync.state.records import ConnectorState, PushRecord
from sfsync.state.store import StateStore
from sfsync.sync.push import Pusher, PushOutcome
from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.in_process import authorized_tokens, emulator_http, emulator_session

CLIENT_ID = "sfsync-push-tier"
RESOURCE = "sfsync_site"
DOUBT_SECONDS = 30.0
PATIENCE_SECONDS = 60.0
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def build(version: int) -> BuiltPackage:
    """Return a small ZIP build whose bytes (and hash) differ per version."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # A fixed date: the same version is the same bytes, whenever it is built.
        entry = zipfile.ZipInfo("index.html", date_time=(1980, 1, 1, 0, 0, 0))
        archive.writestr(entry, f"<p>version {version}</p>")
    data = buffer.getvalue()
    return BuiltPackage(
        pieces=(data,),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        content_sha256=hashlib.sha256(f"content {version}".encode()).hexdigest(),
        entries=("index.html",),
    )


@dataclass
class Clock:
    """The pusher's wall clock, moved by the test."""

    now: datetime = START

    def __call__(self) -> datetime:
        """Return the current moment."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


@dataclass
class PushSite:
    """One connector (lightning/sandbox) on one emulated org, and a Pusher for it."""

    emu: Emulator
    org: OrgHandle
    state_dir: Path
    api: Literal["tooling", "metadata"] = "tooling"
    verify: bool = False
    keep_packages: int = 3
    attempts: int = 3
    timeout: float = 10.0
    patience_seconds: float = PATIENCE_SECONDS
    # Told of each API call's answer (of the org's API usage it reports), as it arrives.
    on_answer: Callable[[ApiUsage], None] | None = None
    clock: Clock = field(default_factory=Clock)
    store: StateStore = field(init=False)
    pusher: Pusher = field(init=False)
    session: ConnectorSession = field(init=False)

    def __post_init__(self) -> None:
        tokens = authorized_tokens({self.connector.name: self.org}, CLIENT_ID)
        http = emulator_http(self.emu, self.timeout)
        self.session = emulator_session(self.connector.name, tokens, http, self.state_dir)
        self.open()

    @property
    def connector(self) -> Connector:
        """The connector pushed to."""
        return Connector(
            system="lightning",
            environment="sandbox",
            resource=RESOURCE,
            cache_control="Public",
            source=DirSource(type="dir", path=self.state_dir / "drop"),
            settings_file="sfsync-settings.json",
            login_url=self.org.instance_url,
            client_id=CLIENT_ID,
            api=self.api,
            overrides={},
            verify=self.verify,
            requires=None,
            soak=None,
        )

    def open(self) -> None:
        """Open the state store (as a new process does) and a Pusher on it."""
        self.store = StateStore.open(self.state_dir)
        self.pusher = Pusher(
            store=self.store,
            archive=PackageArchive(self.state_dir, move=move_central),
            clock=self.clock,
            retry=RetryPolicy(attempts=self.attempts),
            keep_packages=self.keep_packages,
            deploy_patience_seconds=self.patience_seconds,
            doubt_seconds=DOUBT_SECONDS,
            sleep=lambda _seconds: None,
            on_usage=lambda _connector, usage: self._answered(usage),
        )

    def _answered(self, usage: ApiUsage) -> None:
        if self.on_answer is not None:
            self.on_answer(usage)

    def restart(self) -> list[PushRecord]:
        """Close the store and open it again as the next process does: pushes its
        predecessor left 'started' are marked abandoned (and their org is to be checked);
        return them.
        """
        self.store.close()
        self.open()
        doubts = {
            api: self.clock() + self.pusher.doubt_window(api) for api in ("tooling", "metadata")
        }
        return self.store.abandon_unfinished(self.clock(), recheck_after=doubts)

    def state(self) -> ConnectorState:
        """Return the connector's state as the store has it (as a cycle reads it to plan)."""
        return self.store.connector(self.connector.name)

    def push(self, version: int) -> PushOutcome:
        """Push the given version's build with the state as stored now."""
        return self.pusher.push(
            self.connector, build(version), f"v{version}", self.session, state=self.state()
        )

    def recheck(self, version: int) -> PushOutcome:
        """Check the org for the given (live) version's build, as a cycle in doubt does."""
        return self.pusher.recheck(
            self.connector, build(version), f"v{version}", self.session, state=self.state()
        )

    def served(self) -> str | None:
        """Return the SHA-256 of the body the org holds for the resource, or None."""
        resource = self.org.static_resources.get(RESOURCE)
        return hashlib.sha256(resource.body).hexdigest() if resource else None

    def outcomes(self) -> list[str]:
        """Return the connector's push outcomes, oldest first."""
        return [push.outcome for push in reversed(self.store.history(self.connector.name))]
