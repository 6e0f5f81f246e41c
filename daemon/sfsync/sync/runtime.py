"""Wiring a sync runtime from a loaded config, with production defaults: the state store, kept
builds, the keyring, a session per connector, every system's source, API usage and the pusher.
The CLI's commands and the daemon both run cycles through one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests

from sfsync.auth_wiring import AuthDeps, auth_deps
from sfsync.clock import epoch_seconds, utc_now
from sfsync.config import Connector, LoadedConfig
from sfsync.package.cache import DirectoryCompressionCache
from sfsync.package.zipwrite import move_central
from sfsync.salesforce.retry import RetryPolicy
from sfsync.salesforce.session import ConnectorSession
from sfsync.sources.open import open_sources
from sfsync.state.packages import PackageArchive
from sfsync.state.store import StateStore
from sfsync.sync.cycle import ConnectorResult, CycleDeps, CycleReport, run_cycle, write_proofs
from sfsync.sync.push import Pusher
from sfsync.sync.usage import UsageBook
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
    """Everything a cycle needs, opened once: state, kept builds, tokens, sessions, sources,
    API usage and the pusher.
    """

    deps: CycleDeps
    pusher: Pusher
    # Closes the connections kept open to the orgs (they are opened again when needed).
    close_connections: Callable[[], None] = lambda: None

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
    on_response: Callable[[str, requests.Response], None] | None = None,
    auth: AuthDeps | None = None,
    retry: RetryPolicy | None = None,
    push_slots: threading.BoundedSemaphore | None = None,
    interrupted: threading.Event | None = None,
    clock: Callable[[], datetime] = utc_now,
    epoch: Callable[[], float] = epoch_seconds,
) -> Iterator[SyncRuntime]:
    """Given a loaded config, open the state store and the keyring and yield a runtime whose
    sessions are kept per connector (access tokens live in memory for the runtime's life); the
    token grants not yet written by a cycle are written to the store when it closes.

    With `on_response`, every answer a connector's session gets also feeds the API usage
    (token refreshes included, not only the push's calls) before `on_response` sees it.
    """
    config = loaded.config
    auth = auth or auth_deps(loaded)
    auth.store = cached(auth.store)
    sources = open_sources(config)
    store = StateStore.open(config.daemon.state_dir)
    try:
        usage = UsageBook(store, [c.name for c in loaded.connectors], epoch=epoch)
        if on_response is not None:
            observe = on_response

            def observed(connector: str, response: requests.Response) -> None:
                usage.observe(connector, response)
                observe(connector, response)

            auth.on_response = observed
        sessions: dict[str, ConnectorSession] = {}
        sessions_lock = threading.Lock()

        def session_for(connector: Connector) -> ConnectorSession:
            with sessions_lock:
                known = sessions.get(connector.name)
                # A refused session is never reused: the plan only asks for one again once
                # `sfsync authorize` has stored a new authorization.
                if known is None or known.needs_authorization:
                    sessions[connector.name] = auth.session(connector)
                return sessions[connector.name]

        archive = PackageArchive(config.daemon.state_dir, move=move_central)
        pusher = Pusher(
            store=store,
            archive=archive,
            clock=clock,
            retry=retry or RetryPolicy(),
            keep_packages=config.daemon.keep_packages,
            deploy_patience_seconds=config.salesforce.deploy_patience.total_seconds(),
            doubt_seconds=doubt_seconds(config.salesforce.timeout),
            on_usage=usage.record,
        )
        now = clock()
        doubts = {api: now + pusher.doubt_window(api) for api in ("tooling", "metadata")}
        store.abandon_unfinished(now, recheck_after=doubts)
        deps = CycleDeps(
            loaded=loaded,
            store=store,
            archive=archive,
            tokens=auth.store,
            session_for=session_for,
            sources=sources,
            clock=clock,
            epoch=epoch,
            cache=DirectoryCompressionCache(config.daemon.state_dir / "cache"),
            usage=usage,
            on_result=on_result,
            push_slots=push_slots,
            interrupted=interrupted,
            proofs=auth.proofs,
        )
        try:
            yield SyncRuntime(deps=deps, pusher=pusher, close_connections=auth.http.close)
        finally:
            # What ran outside a cycle (rollback, verify, resume) got tokens too.
            write_proofs(deps)
    finally:
        store.close()
