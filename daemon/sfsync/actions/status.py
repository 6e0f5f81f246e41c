"""`sfsync status`: one row per connector, from the keyring (authorization), the org (who the
token belongs to), the state store (what is live, the last push, pauses) and the config (what a
promotion gate holds back).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sfsync.auth_wiring import AuthDeps
from sfsync.config import Connector
from sfsync.errors import AuthorizationError, SalesforceError, StateError, TokenStoreError
from sfsync.redact import redact_text
from sfsync.salesforce.content_url import content_url
from sfsync.state.records import ConnectorState, PushRecord
from sfsync.state.store import DATABASE_NAME, StateStore
from sfsync.sync.plan import authorization_usable, gate_of, gate_waiting
from sfsync.tokens.record import Flow

# Pushes read per connector for the contents it has had live (see `gate_column`).
_HISTORY_READ = 20
# Connectors checked at once. A check is a token refresh: a round trip to the org (100 ms and
# more) for about 7 ms of this process's CPU (bench row KS), so some 15 in flight keep busy the
# one core the GIL lets it use; 32 cover round trips up to about 200 ms. More would only queue
# on the GIL and the keyring's lock, and open more connections to one login host (the shared
# pools keep at least this many per host: `http_session.CONNECTIONS_PER_HOST`).
CHECKS_AT_ONCE = 32

# The version of `status --json`'s shape (docs/status.schema.json): raised when a key changes
# meaning or goes away, not when one is added.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class StatusRow:
    """One connector's status (SPEC section 5), its fields in `status --json`'s key order.

    The defaults are a connector with no authorization and nothing in the state store; the
    state store's fields stay null until it holds them (no store yet, nothing pushed, no gate
    waiting), except `paused`, always a boolean.
    """

    connector: str
    system: str
    environment: str
    authorized: bool | None = False  # None: unknown, the keyring could not say
    needs_authorization: bool | None = True
    flow: Flow | None = None
    authorized_at: str | None = None
    user: str | None = None
    org_id: str | None = None
    instance_url: str | None = None
    auth_error: str | None = None
    live_sha256: str | None = None
    live_since: str | None = None
    last_push_at: str | None = None
    last_result: str | None = None
    last_error: str | None = None
    paused: bool = False
    paused_reason: str | None = None
    pending_deploy_id: str | None = None
    recheck_after: str | None = None
    gated: str | None = None
    content_url: str | None = None
    content_url_note: str | None = None


def empty_row(connector: Connector) -> StatusRow:
    """Given a connector, return its status row as for a connector with no authorization and
    nothing in the state store.
    """
    return StatusRow(connector.name, connector.system, connector.environment)


def status_report(rows: Sequence[StatusRow], error: str | None = None) -> dict[str, Any]:
    """Given status rows (and the keyring's error, when it could not be read at all), return
    the `status --json` object.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "error": error,
        "connectors": [asdict(row) for row in rows],
    }


def connector_status(connector: Connector, deps: AuthDeps, *, live: bool = True) -> StatusRow:
    """Given a connector, return its status row. With `live`, ask the org who the token
    belongs to (refreshing it if needed), which is also how a revoked token is noticed.
    """
    row = empty_row(connector)
    try:
        record = deps.store.get(connector.name)
    except TokenStoreError as error:
        # Whether it is authorized is unknown: the keyring could not say.
        return replace(row, authorized=None, needs_authorization=None, auth_error=str(error))
    if record is None:
        return row
    row = replace(
        row,
        authorized=True,
        needs_authorization=False,
        flow=record.flow,
        authorized_at=record.issued_at,
        instance_url=record.instance_url,
        # Who and which org were recorded when the token was proven (SPEC section 6): reading
        # the identity URL would need the `id` scope.
        user=record.username or record.user_id,
        org_id=record.org_id,
    )
    row = _with_content_url(row, connector, record.instance_url, None)
    if not live:
        return row
    session = deps.session(connector)
    try:
        # A refresh is what notices a revoked or expired token; it costs no API call.
        session.access_token()
    except AuthorizationError as error:
        return replace(
            row, authorized=False, needs_authorization=True, auth_error=redact_text(str(error))
        )
    except (SalesforceError, StateError) as error:
        return replace(row, auth_error=redact_text(str(error)))
    row = replace(row, instance_url=session.record.instance_url)
    return _with_content_url(row, connector, session.record.instance_url, None)


def _with_content_url(
    row: StatusRow, connector: Connector, instance_url: str, live_since: datetime | None
) -> StatusRow:
    found = content_url(instance_url, connector.resource, live_since)
    return replace(row, content_url=found.url, content_url_note=found.note)


def with_state_columns(row: StatusRow, state: ConnectorState, last: PushRecord | None) -> StatusRow:
    """Given a status row, the connector's stored state and its latest push, return the row
    with the columns they fill.
    """
    return replace(
        row,
        live_sha256=state.live_sha256,
        live_since=state.live_since.isoformat() if state.live_since else None,
        last_push_at=last.started_at.isoformat() if last else None,
        last_result=last.outcome if last else None,
        # Stores written before errors were redacted on the way in may still hold a secret.
        last_error=redact_text(state.last_error) if state.last_error else None,
        paused=state.paused,
        paused_reason=state.paused_reason,
        pending_deploy_id=state.pending_deploy_id,
        # A write's outcome is unknown: the org's body is checked after this time.
        recheck_after=state.recheck_after.isoformat() if state.recheck_after else None,
    )


def gate_column(
    connector: Connector,
    state: ConnectorState,
    history: list[PushRecord],
    store: StateStore,
    now: datetime,
) -> str | None:
    """Given a connector, its state and recent pushes, the store and the time, return what its
    promotion gate holds back (`gated`), or None if it has no gate or nothing is held back.
    """
    gate = gate_of(connector)
    if gate is None:
        return None
    had_live = {push.content_sha256 for push in history if push.outcome == "pushed"}
    return gate_waiting(gate, state, store.connector(gate.requires), now, had_live=had_live)


def status_rows(connectors: tuple[Connector, ...], deps: AuthDeps) -> list[StatusRow]:
    """Return the status row of every connector, in config order; one connector's failure
    never hides the others'. Connectors are checked `CHECKS_AT_ONCE` at a time. The state store
    is read only if it exists: status never creates it.
    """
    width = max(1, min(CHECKS_AT_ONCE, len(connectors)))
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="status") as pool:
        rows = list(pool.map(lambda connector: connector_status(connector, deps), connectors))
    return add_state_columns(connectors, rows, deps.loaded.config.daemon.state_dir, deps.clock())


def unknown_authorization_rows(
    connectors: tuple[Connector, ...], state_dir: Path, now: datetime, error: str
) -> list[StatusRow]:
    """Given the connectors, the state dir, the time and why the keyring could not be opened,
    return their status rows: authorization unknown (null), the rest from the state store.
    """
    rows = [
        replace(empty_row(connector), authorized=None, needs_authorization=None, auth_error=error)
        for connector in connectors
    ]
    return add_state_columns(connectors, rows, state_dir, now)


def add_state_columns(
    connectors: tuple[Connector, ...], rows: list[StatusRow], state_dir: Path, now: datetime
) -> list[StatusRow]:
    """Given the connectors and their rows, return the rows with their columns from the state
    store in `state_dir`, if it exists (status never creates it).
    """
    if not (state_dir / DATABASE_NAME).exists():
        return rows
    filled = []
    store = StateStore.open(state_dir)
    try:
        for connector, row in zip(connectors, rows, strict=True):
            history = store.history(connector.name, limit=_HISTORY_READ)
            state = store.connector(connector.name)
            stated = with_state_columns(row, state, history[0] if history else None)
            if stated.instance_url is not None:
                stated = _with_content_url(stated, connector, stated.instance_url, state.live_since)
            refused = not authorization_usable(state, stated.authorized_at)
            filled.append(
                replace(
                    stated,
                    gated=gate_column(connector, state, history, store, now),
                    auth_error=(
                        "the last push was refused authorization"
                        if refused and stated.authorized and stated.auth_error is None
                        else stated.auth_error
                    ),
                )
            )
    finally:
        store.close()
    return filled
