"""The commands that act on one connector through a sync runtime: rollback, resume and verify."""

from __future__ import annotations

import hashlib

from sfsync.config import Connector
from sfsync.errors import ApiError, SfsyncError, UsageError
from sfsync.sync.cycle import ConnectorResult
from sfsync.sync.result import Result
from sfsync.sync.runtime import SyncRuntime


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
