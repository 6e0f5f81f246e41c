"""Wiring a sync cycle from a loaded config, and the commands built on it: sync, rollback,
resume and verify.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sfsync.actions.locate import SourceLocator
from sfsync.actions.wiring import AuthDeps, auth_deps
from sfsync.clock import epoch_seconds, utc_now
from sfsync.config import Connector, LoadedConfig
from sfsync.errors import ApiError, SfsyncError, UsageError
from sfsync.package.cache import DirectoryCompressionCache
from sfsync.salesforce.limits import ApiUsage
from sfsync.salesforce.retry import RetryPolicy
from sfsync.salesforce.session import ConnectorSession
from sfsync.state.packages import PackageArchive
from sfsync.state.store import StateStore
from sfsync.sync.cycle import ConnectorResult, CycleDeps, CycleReport, run_cycle
from sfsync.sync.push import Pusher
from sfsync.sync.result import Result
from sfsync.tokens.caching import cached

# A write the client gave up on is assumed settled (applied or dropped by the org) once the
# org has had as long again as the client waited, plus this margin. Salesforce documents no
# bound; an org that held a write longer would need a longer `timeout`.
DOUBT_MARGIN_SECONDS = 10.0


def doubt_seconds(timeout: timedelta) -> float:
    """Given the per-request timeout, return how long after giving up on a write it may still
    land in the org.
    """
    return 2 * timeout.total_seconds() + DOUBT_MARGIN_SECONDS


@dataclass
class SyncRuntime:
    """Everything a cycle needs, opened once: state, kept builds, tokens, sessions, pusher."""

    deps: CycleDeps
    pusher: Pusher

    def cycle(
        self, *, only: set[str] | None = None, dry_run: bool = False, force: bool = False
    ) -> CycleReport:
        """Run one cycle; see `run_cycle`."""
        return run_cycle(self.deps, self.pusher, only=only, dry_run=dry_run, force=force)


@contextmanager
def open_runtime(
    loaded: LoadedConfig,
    *,
    on_result: Callable[[ConnectorResult], None] | None = None,
    auth: AuthDeps | None = None,
    retry: RetryPolicy | None = None,
    push_slots: threading.BoundedSemaphore | None = None,
    interrupted: threading.Event | None = None,
) -> Iterator[SyncRuntime]:
    """Given a loaded config, open the state store and the keyring and yield a runtime whose
    sessions are kept per connector (access tokens live in memory for the runtime's life).
    """
    config = loaded.config
    auth = auth or auth_deps(loaded)
    auth.store = cached(auth.store)
    store = StateStore.open(config.daemon.state_dir)
    try:
        sessions: dict[str, ConnectorSession] = {}
        sessions_lock = threading.Lock()

        def session_for(connector: Connector) -> ConnectorSession:
            with sessions_lock:
                cached = sessions.get(connector.name)
                # A refused session is never reused: the plan only asks for one again once
                # `sfsync authorize` has stored a new authorization.
                if cached is None or cached.needs_authorization:
                    sessions[connector.name] = auth.session(connector)
                return sessions[connector.name]

        # Usage carries over from earlier processes through the store; this one's answers
        # update both.
        usage: dict[str, tuple[ApiUsage, float]] = {}
        for connector in loaded.connectors:
            known = store.connector(connector.name).api_usage
            if known is not None:
                usage[connector.name] = known

        def remember_usage(connector: str, seen: ApiUsage) -> None:
            usage[connector] = (seen, epoch_seconds())
            store.record_api_usage(connector, seen, usage[connector][1])

        archive = PackageArchive(config.daemon.state_dir)
        pusher = Pusher(
            store=store,
            archive=archive,
            clock=utc_now,
            retry=retry or RetryPolicy(),
            keep_packages=config.daemon.keep_packages,
            deploy_patience_seconds=config.salesforce.deploy_patience.total_seconds(),
            doubt_seconds=doubt_seconds(config.salesforce.timeout),
            on_usage=remember_usage,
        )
        now = utc_now()
        doubts = {api: now + pusher.doubt_window(api) for api in ("tooling", "metadata")}
        store.abandon_unfinished(now, recheck_after=doubts)
        deps = CycleDeps(
            loaded=loaded,
            store=store,
            archive=archive,
            tokens=auth.store,
            session_for=session_for,
            cache=DirectoryCompressionCache(config.daemon.state_dir / "cache"),
            usage=usage,
            on_result=on_result,
            locate=SourceLocator(config),
            push_slots=push_slots,
            interrupted=interrupted,
        )
        yield SyncRuntime(deps=deps, pusher=pusher)
    finally:
        store.close()


def rollback(runtime: SyncRuntime, connector: Connector, sha_prefix: str | None) -> ConnectorResult:
    """Given a connector and a kept build's hash prefix (None: the build live before the current
    one), push that build again and pause automatic pushes to the connector.

    Raise UsageError if no such build is kept.
    """
    store = runtime.deps.store
    archive = runtime.deps.archive
    state = store.connector(connector.name)
    if sha_prefix is not None:
        target = archive.resolve_prefix(connector.name, sha_prefix)
    else:
        earlier = [
            record.sha256
            for record in store.history(connector.name, limit=100)
            if record.outcome == "pushed" and record.sha256 != state.live_sha256
        ]
        if not earlier:
            raise UsageError(
                f"connector {connector.name}: no earlier pushed build to roll back to; "
                "give one with --to"
            )
        target = earlier[0]
    kept = runtime.pusher.kept_build(connector, target)
    # Pause first: a daemon cycle running meanwhile must not push the newer build back.
    store.set_paused(connector.name, paused=True, reason=f"rolled back to {target[:12]}")
    outcome = runtime.pusher.push(
        connector,
        kept.built,
        kept.source_version,
        runtime.deps.session_for(connector),
        state=state,
    )
    return ConnectorResult(connector.name, outcome.outcome, outcome.detail, target, kept.built.size)


def resume(runtime: SyncRuntime, connector: Connector) -> bool:
    """Given a connector, lift its pause; return whether it was paused."""
    was = runtime.deps.store.connector(connector.name).paused
    runtime.deps.store.set_paused(connector.name, paused=False)
    return was


def verify(runtime: SyncRuntime, connector: Connector) -> ConnectorResult:
    """Given a connector, download its live Static Resource and compare it with what sfsync
    pushed last; the result is 'verified', 'mismatch' or 'failed'.
    """
    state = runtime.deps.store.connector(connector.name)
    if state.live_sha256 is None:
        return ConnectorResult(connector.name, Result.FAILED, "sfsync has pushed nothing here yet")
    try:
        body = runtime.pusher.read_back(connector, runtime.deps.session_for(connector), state=state)
        if body is None:
            raise ApiError(f"{connector.name}: the org has no {connector.resource}")
    except SfsyncError as error:
        return ConnectorResult(connector.name, Result.FAILED, str(error))
    served = hashlib.sha256(body).hexdigest()
    if served == state.live_sha256:
        return ConnectorResult(connector.name, Result.VERIFIED, f"{served[:12]} is served", served)
    return ConnectorResult(
        connector.name,
        Result.MISMATCH,
        f"the org serves {served[:12]}, sfsync pushed {state.live_sha256[:12]}",
        served,
    )
