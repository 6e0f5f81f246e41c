"""`sfsync status`: one row per connector, from the keyring (authorization), the org (who the
token belongs to), the state store (what is live, the last push, pauses) and the config (what a
promotion gate holds back).

A live check is a token refresh (about 7 ms of CPU and a round trip each), so a run checks at
most `LIVE_CHECKS_PER_RUN` connectors live, the least recently proven first, and reports the
others from the keyring and the state store; what its checks find (proofs and refusals) is
written to the store, so that a later run that does not check a connector still shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sfsync.auth_wiring import AuthDeps
from sfsync.config import Connector
from sfsync.config.names import authorize_arguments
from sfsync.errors import AuthorizationError, SalesforceError, StateError, TokenStoreError
from sfsync.redact import redact_text
from sfsync.salesforce.content_url import content_url
from sfsync.state.records import ConnectorState, PushRecord
from sfsync.state.store import DATABASE_NAME, StateStore
from sfsync.sync.plan import authorization_usable, gate_of, gate_waiting
from sfsync.tokens.record import Flow, StoredAuthorization

# Pushes read per connector for the contents it has had live (see `gate_column`).
_HISTORY_READ = 20
# Connectors checked at once. A check is a token refresh: a round trip to the org (100 ms and
# more) for about 7 ms of this process's CPU (measured at 1,000 connectors), so some 15 in
# flight keep busy the one core the GIL lets it use; 32 cover round trips up to about 200 ms.
# More would only queue on the GIL and the keyring's lock, and open more connections to one
# login host (the shared pools keep at least this many per host:
# `http_session.CONNECTIONS_PER_HOST`).
CHECKS_AT_ONCE = 32
# Connectors checked live per run: with 250 or fewer, every one on every run; past that, a
# rolling check (every token proven at least every N/250 runs) keeps a run within its time
# (250 checks are about 2 s of CPU) and a probe's token requests to Salesforce bounded.
LIVE_CHECKS_PER_RUN = 250

# Sorts before every proof: a connector never proven is checked first.
_NEVER = datetime.min.replace(tzinfo=UTC)

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
    auth_checked_at: str | None = None  # when a token grant last succeeded (ISO 8601)


def empty_row(connector: Connector) -> StatusRow:
    """Given a connector, return its status row as for a connector with no authorization and
    nothing in the state store.
    """
    return StatusRow(connector.name, connector.system, connector.environment)


def status_report(rows: Sequence[StatusRow], error: str | None = None) -> dict[str, Any]:
    """Given status rows (and the keyring's error, when it could not be read at all), return
    the `status --json` object.
    """
    # Rows are flat, so a shallow dict is asdict's result without its deep copy (0.6 s of CPU
    # at 10,000 rows).
    names = [field.name for field in fields(StatusRow)]
    return {
        "schema_version": SCHEMA_VERSION,
        "error": error,
        "connectors": [{name: getattr(row, name) for name in names} for row in rows],
    }


def connector_status(
    connector: Connector,
    deps: AuthDeps,
    *,
    live: bool = True,
    on_refused: Callable[[str, str | None], None] | None = None,
) -> StatusRow:
    """Given a connector, return its status row. With `live`, refresh its token, which is how
    a revoked token is noticed; `on_refused` is told the connector and the `issued_at` of an
    authorization the org refused.
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
        if on_refused is not None:
            on_refused(connector.name, session.issued_at)
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
    never hides the others'. At most `LIVE_CHECKS_PER_RUN` connectors are checked live
    (`connectors_to_check`), `CHECKS_AT_ONCE` at a time; what the checks find is written to the
    state store if it exists (status never creates it).
    """
    store = _open_existing(deps.loaded.config.daemon.state_dir)
    try:
        names = [connector.name for connector in connectors]
        states = store.connectors(names) if store is not None else None
        live = connectors_to_check(connectors, _records(deps, names), states, LIVE_CHECKS_PER_RUN)
        refusals: dict[str, str | None] = {}

        def check(connector: Connector) -> StatusRow:
            return connector_status(connector, deps, on_refused=refusals.__setitem__)

        width = max(1, min(CHECKS_AT_ONCE, len(live)))
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="status") as pool:
            checking = {c.name: pool.submit(check, c) for c in connectors if c.name in live}
            # The rows not checked live need no network: made here while the checks run, not
            # handed to the pool one by one (at 10,000 connectors, a quarter second of CPU).
            unchecked = {
                c.name: connector_status(c, deps, live=False)
                for c in connectors
                if c.name not in live
            }
            rows = [
                checking[c.name].result() if c.name in checking else unchecked[c.name]
                for c in connectors
            ]
        proven = deps.proofs.pending()
        rows = [
            replace(row, auth_checked_at=proven[row.connector].isoformat())
            if row.connector in proven
            else row
            for row in rows
        ]
        if store is None or states is None:
            return rows
        _write_findings(store, deps, refusals)
        # The states read before the checks serve the columns: what the checks changed since
        # (proofs, refusals) is already in their rows.
        return _fill_state_columns(connectors, rows, store, states, deps.clock(), checked=live)
    finally:
        if store is not None:
            store.close()


def connectors_to_check(
    connectors: Sequence[Connector],
    records: Mapping[str, StoredAuthorization | None] | None,
    states: Mapping[str, ConnectorState] | None,
    limit: int,
) -> set[str]:
    """Given the connectors, their keyring records (None: unknown, the keyring could not be
    read in one pass), their stored states (None: no store) and the limit, return the names to
    check live: those with an authorization, the least recently proven first (never proven,
    then the oldest proof; an authorization the store records as refused last), ties in config
    order.
    """
    candidates = []
    for index, connector in enumerate(connectors):
        record = records.get(connector.name) if records is not None else None
        if records is not None and record is None:
            continue  # nothing to check: not authorized
        state = (states or {}).get(connector.name) or ConnectorState(connector.name)
        refused = record is not None and not authorization_usable(state, record.issued_at)
        proven = state.token_proven_at
        candidates.append((refused, proven is not None, proven or _NEVER, index, connector.name))
    return {candidate[-1] for candidate in sorted(candidates)[:limit]}


def _records(deps: AuthDeps, names: list[str]) -> Mapping[str, StoredAuthorization | None] | None:
    # One pass over the keyring (each row's read is then answered from the cache); a failure
    # is left for each row's own read to report.
    try:
        return deps.store.get_many(names)
    except TokenStoreError:
        return None


def _open_existing(state_dir: Path) -> StateStore | None:
    """Return the state store in `state_dir` opened, or None if it does not exist (status never
    creates it).
    """
    if not (state_dir / DATABASE_NAME).exists():
        return None
    return StateStore.open(state_dir)


def _write_findings(store: StateStore, deps: AuthDeps, refusals: Mapping[str, str | None]) -> None:
    """Write what this run's live checks found to the state store: the token grants that
    succeeded (one transaction) and each authorization the org refused, as the pusher and the
    keep-alive do.
    """
    deps.proofs.write_to(store)
    for connector, issued_at in refusals.items():
        store.set_needs_authorization(connector, needed=True, issued_at=issued_at)


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
    connectors: tuple[Connector, ...],
    rows: list[StatusRow],
    state_dir: Path,
    now: datetime,
    *,
    checked: Collection[str] | None = None,
) -> list[StatusRow]:
    """Given the connectors, their rows and which were checked live (None: all), return the
    rows with their columns from the state store in `state_dir`, if it exists (status never
    creates it). An unchecked row whose authorization the store records as refused needs
    authorization, as a live refusal would.
    """
    store = _open_existing(state_dir)
    if store is None:
        return rows
    try:
        states = store.connectors([connector.name for connector in connectors])
        return _fill_state_columns(connectors, rows, store, states, now, checked=checked)
    finally:
        store.close()


def _fill_state_columns(
    connectors: tuple[Connector, ...],
    rows: list[StatusRow],
    store: StateStore,
    states: Mapping[str, ConnectorState],
    now: datetime,
    *,
    checked: Collection[str] | None,
) -> list[StatusRow]:
    """Given the connectors, their rows, the open store, their states and which were checked
    live, return the rows with their state columns (see `add_state_columns`).
    """
    filled = []
    latest = store.latest_pushes([connector.name for connector in connectors])
    for connector, row in zip(connectors, rows, strict=True):
        state = states[connector.name]
        stated = with_state_columns(row, state, latest.get(connector.name))
        # Only a gate looks further back than the last push.
        history = (
            store.history(connector.name, limit=_HISTORY_READ)
            if gate_of(connector) is not None
            else []
        )
        if stated.instance_url is not None:
            stated = _with_content_url(stated, connector, stated.instance_url, state.live_since)
        refused = not authorization_usable(state, stated.authorized_at)
        stated = replace(
            stated,
            gated=gate_column(connector, state, history, store, now),
            auth_checked_at=_newest(stated.auth_checked_at, state.token_proven_at),
        )
        if refused and stated.authorized and (checked is None or connector.name in checked):
            if stated.auth_error is None:
                stated = replace(stated, auth_error="the last push was refused authorization")
        elif refused and stated.authorized:
            stated = replace(
                stated,
                authorized=False,
                needs_authorization=True,
                auth_error=(
                    "Salesforce refused this authorization when it was last used; run "
                    f"`sfsync authorize {authorize_arguments(connector.name)}`"
                ),
            )
        filled.append(stated)
    return filled


def _newest(shown: str | None, stored: datetime | None) -> str | None:
    """Return the later of this run's proof (ISO 8601) and the store's, as ISO 8601."""
    if stored is None:
        return shown
    if shown is None:
        return stored.isoformat()
    return max(datetime.fromisoformat(shown), stored).isoformat()
