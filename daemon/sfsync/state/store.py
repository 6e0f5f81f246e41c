"""The SQLite state store (SPEC section 9): every change is one transaction, so a crash at any
point leaves either the state before it or the state after it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sfsync.errors import StateDirectoryError, StateError, describe_os_error
from sfsync.files import make_private_directories
from sfsync.redact import redact_text
from sfsync.salesforce.limits import ApiUsage
from sfsync.state.migrations import migrate
from sfsync.state.records import BuildKey, BuildRecord, ConnectorState, PushRecord

DATABASE_NAME = "state.sqlite3"
# Names bound per query when many connectors are read at once: well under SQLite's limit on
# bound parameters (999 before 3.32).
_NAMES_PER_QUERY = 500
_FILE_MODE = 0o600
# Pushes whose process died; a push waiting on a Metadata deploy is not one of them.
_SELECT_UNFINISHED = (
    "SELECT * FROM pushes WHERE outcome = 'started' AND id NOT IN "
    "(SELECT pending_deploy_push_id FROM connectors WHERE pending_deploy_push_id IS NOT NULL)"
)
_ABANDON_UNFINISHED = (
    "UPDATE pushes SET outcome = 'abandoned', finished_at = ?, "
    "error = 'the process stopped before the push finished' "
    "WHERE outcome = 'started' AND id NOT IN "
    "(SELECT pending_deploy_push_id FROM connectors WHERE pending_deploy_push_id IS NOT NULL)"
)

# A push's Metadata deploy is forgotten when the push succeeds, in the same transaction: a crash
# between the deploy's end and that leaves the deploy to be checked again, not redone. (A failed
# push keeps it: a poll that failed says nothing about the deploy, which may still run.)
_FORGET_DEPLOY_OF_PUSH = (
    "UPDATE connectors SET pending_deploy_id = NULL, pending_deploy_sha256 = NULL, "
    "pending_deploy_push_id = NULL WHERE connector = ? AND pending_deploy_push_id = ?"
)


# Building the same bytes again refreshes the kept build's time (and its file, when known).
_RECORD_BUILD = (
    "INSERT INTO builds (connector, sha256, content_sha256, source_version, size, "
    "built_at, source_file) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (connector, sha256) "
    "DO UPDATE SET built_at = excluded.built_at, "
    "source_file = COALESCE(excluded.source_file, builds.source_file)"
)
_BEGIN_PUSH = (
    "INSERT INTO pushes (connector, sha256, content_sha256, source_version, api, "
    "started_at) VALUES (?, ?, ?, ?, ?, ?)"
)


def make_state_directory(path: Path) -> None:
    """Given the state_dir or a folder in it, create it (and parents) if needed, 0700.

    Raise StateDirectoryError naming the path if that is not possible.
    """
    try:
        make_private_directories(path, tighten=True)
    except OSError as error:
        raise StateDirectoryError(
            describe_os_error(path, error, "create the state directory (daemon.state_dir)")
        ) from None


class StateStore:
    """The state of every connector, in `state.sqlite3` inside the state directory.

    Safe to share between threads (one connection behind a lock) and between processes (SQLite
    locking, with a busy timeout so the CLI and the daemon wait for each other).
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._connection = connection
        self._lock = threading.RLock()
        self.path = path

    @classmethod
    def open(cls, state_dir: Path) -> StateStore:
        """Given the state directory, return the store in it, created (0700/0600) and migrated.

        Raise StateError naming the path if it cannot be opened or is not a state store.
        """
        make_state_directory(state_dir)
        path = state_dir / DATABASE_NAME
        try:
            # Create the file with its final mode, so it is never readable by others, even briefly.
            descriptor = os.open(path, os.O_CREAT | os.O_RDWR, _FILE_MODE)
            os.close(descriptor)
            path.chmod(_FILE_MODE)
        except OSError as error:
            raise StateDirectoryError(
                describe_os_error(path, error, "create the state store")
            ) from None
        try:
            connection = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30
            )
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            migrate(connection)
        except (sqlite3.Error, RuntimeError, OSError) as error:
            raise StateError(f"state store {path}: {error}") from None
        for sidecar in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if sidecar.exists():
                sidecar.chmod(_FILE_MODE)
        return cls(connection, path)

    def close(self) -> None:
        """Close the store; it may not be used afterwards."""
        with self._lock:
            self._connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._connection.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise StateError(f"state store {self.path}: {error}") from None
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            try:
                self._connection.execute("COMMIT")
            except sqlite3.Error as error:
                self._connection.execute("ROLLBACK")
                raise StateError(f"state store {self.path}: {error}") from None

    def _write(self, sql: str, parameters: tuple[Any, ...]) -> sqlite3.Cursor:
        """Run one statement as its own transaction (autocommit): as atomic as BEGIN ... COMMIT
        around it, with one call into SQLite instead of three. Every call releases and takes
        back the GIL, which, with a few dozen push threads, is what the store's lock waited on.
        """
        with self._lock:
            try:
                return self._connection.execute(sql, parameters)
            except sqlite3.Error as error:
                raise StateError(f"state store {self.path}: {error}") from None

    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                cursor = self._connection.execute(sql, parameters)
                cursor.row_factory = sqlite3.Row
                return list(cursor.fetchall())
            except sqlite3.Error as error:
                raise StateError(f"state store {self.path}: {error}") from None

    def _update_connector(self, connector: str, **columns: object) -> None:
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        assignments = ", ".join(f"{column} = excluded.{column}" for column in columns)
        self._write(
            f"INSERT INTO connectors (connector, {names}) VALUES (?, {marks}) "  # noqa: S608 - column names are ours, values bound  # nosec B608
            f"ON CONFLICT (connector) DO UPDATE SET {assignments}",
            (connector, *[_to_sql(value) for value in columns.values()]),
        )

    # Reading ---------------------------------------------------------------------------------

    def connector(self, connector: str) -> ConnectorState:
        """Given a connector name, return its state (empty if it was never seen)."""
        rows = self._query("SELECT * FROM connectors WHERE connector = ?", (connector,))
        return _connector_state(rows[0]) if rows else ConnectorState(connector=connector)

    def connectors(self, connectors: Collection[str]) -> dict[str, ConnectorState]:
        """Given connector names, return each one's state (empty if it was never seen), read
        in one query per few hundred names instead of one per connector.
        """
        names = list(dict.fromkeys(connectors))
        rows = self._rows_for_names("SELECT * FROM connectors WHERE connector IN ({marks})", names)
        found = {row["connector"]: _connector_state(row) for row in rows}
        return {name: found.get(name) or ConnectorState(connector=name) for name in names}

    def api_usages(self, connectors: Collection[str]) -> dict[str, tuple[ApiUsage, float]]:
        """Given connector names, return the last API usage each one's org reported and when
        (epoch seconds), for those that have one, in one query.
        """
        wanted = set(connectors)
        rows = self._query(
            "SELECT connector, api_used, api_allowed, api_usage_at FROM connectors "
            "WHERE api_usage_at IS NOT NULL"
        )
        return {
            row["connector"]: (
                ApiUsage(used=row["api_used"], allowed=row["api_allowed"]),
                row["api_usage_at"],
            )
            for row in rows
            if row["connector"] in wanted
        }

    def history(self, connector: str, limit: int = 20) -> list[PushRecord]:
        """Given a connector, return its most recent push attempts, newest first."""
        rows = self._query(
            "SELECT * FROM pushes WHERE connector = ? ORDER BY id DESC LIMIT ?", (connector, limit)
        )
        return [_push_record(row) for row in rows]

    def latest_pushes(self, connectors: Collection[str]) -> dict[str, PushRecord]:
        """Given connector names, return each one's most recent push attempt (for those that
        have one), in one query per few hundred names instead of one per connector.
        """
        rows = self._rows_for_names(
            "SELECT * FROM pushes WHERE id IN (SELECT MAX(id) FROM pushes "
            "WHERE connector IN ({marks}) GROUP BY connector)",
            list(dict.fromkeys(connectors)),
        )
        return {row["connector"]: _push_record(row) for row in rows}

    def _rows_for_names(self, sql: str, names: list[str]) -> list[sqlite3.Row]:
        """Given a query whose `{marks}` is a list of connector names and the names, return its
        rows, one query per `_NAMES_PER_QUERY` names (SQLite caps a statement's parameters).
        """
        rows: list[sqlite3.Row] = []
        for start in range(0, len(names), _NAMES_PER_QUERY):
            chunk = names[start : start + _NAMES_PER_QUERY]
            marks = ", ".join("?" for _ in chunk)
            rows += self._query(sql.format(marks=marks), tuple(chunk))
        return rows

    def builds(self, connector: str) -> list[BuildRecord]:
        """Given a connector, return the builds kept for it, newest first."""
        rows = self._query(
            "SELECT * FROM builds WHERE connector = ? ORDER BY built_at DESC, sha256",
            (connector,),
        )
        return [_build_record(row) for row in rows]

    # Pushes ----------------------------------------------------------------------------------

    def begin_push(
        self,
        connector: str,
        *,
        sha256: str,
        content_sha256: str,
        source_version: str,
        api: str,
        now: datetime,
    ) -> int:
        """Record that a push of the given build starts now; return its id for `finish_push`."""
        cursor = self._write(
            _BEGIN_PUSH, (connector, sha256, content_sha256, source_version, api, now.isoformat())
        )
        return int(cursor.lastrowid or 0)

    def keep_build_and_begin_push(
        self,
        connector: str,
        *,
        sha256: str,
        content_sha256: str,
        source_version: str,
        size: int,
        api: str,
        now: datetime,
        source_file: str | None = None,
    ) -> int:
        """Record a build kept on disk (as `record_build`) and that a push of it starts now, in
        one transaction; return the push's id for `finish_push`.
        """
        with self._transaction() as connection:
            connection.execute(
                _RECORD_BUILD,
                (
                    connector,
                    sha256,
                    content_sha256,
                    source_version,
                    size,
                    now.isoformat(),
                    source_file,
                ),
            )
            cursor = connection.execute(
                _BEGIN_PUSH,
                (connector, sha256, content_sha256, source_version, api, now.isoformat()),
            )
            return int(cursor.lastrowid or 0)

    def finish_push(
        self,
        push_id: int,
        *,
        resource_id: str | None,
        now: datetime,
        settled_by: datetime | None = None,
    ) -> datetime | None:
        """Record that push `push_id` succeeded: its build is now live on its connector. With
        `settled_by` (when the push began), also forget the connector's doubt if every doubted
        write had settled by then (as `clear_doubt`).

        The history row, the connector's live package and its doubt change in one transaction.
        Return when the connector's org is still to be checked (None: no doubt remains).
        """
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT connector, sha256, content_sha256 FROM pushes WHERE id = ?", (push_id,)
            ).fetchone()
            if row is None:
                raise StateError(f"state store {self.path}: no push with id {push_id}")
            connector, sha256, content_sha256 = row
            connection.execute(
                "UPDATE pushes SET outcome = 'pushed', finished_at = ?, error = NULL WHERE id = ?",
                (now.isoformat(), push_id),
            )
            connection.execute(
                "INSERT INTO connectors (connector) VALUES (?) ON CONFLICT DO NOTHING",
                (connector,),
            )
            connection.execute(
                "UPDATE connectors SET live_sha256 = ?, live_content_sha256 = ?, "
                "live_since = CASE WHEN live_sha256 IS ? THEN live_since ELSE ? END, "
                "resource_id = COALESCE(?, resource_id), last_error = NULL, "
                "needs_authorization = 0, refused_issued_at = NULL WHERE connector = ?",
                (sha256, content_sha256, sha256, now.isoformat(), resource_id, connector),
            )
            connection.execute(_FORGET_DEPLOY_OF_PUSH, (connector, push_id))
            if settled_by is not None:
                _settle_doubt(connection, connector, settled_by)
            return _recheck_due(connection, connector)

    def fail_push(
        self, push_id: int, *, error: str, now: datetime, forget_deploy: bool = False
    ) -> None:
        """Record that push `push_id` failed with `error`; what was live stays live. With
        `forget_deploy` (its Metadata deploy has ended), forget that deploy in the same
        transaction.

        The error is redacted first: it is shown on `sfsync status` and may quote an answer.
        """
        error = redact_text(error)
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT connector FROM pushes WHERE id = ?", (push_id,)
            ).fetchone()
            if row is None:
                raise StateError(f"state store {self.path}: no push with id {push_id}")
            connection.execute(
                "UPDATE pushes SET outcome = 'failed', finished_at = ?, error = ? WHERE id = ?",
                (now.isoformat(), error, push_id),
            )
            # A connector's first push may fail before anything else gave it a row.
            connection.execute(
                "INSERT INTO connectors (connector) VALUES (?) ON CONFLICT DO NOTHING", (row[0],)
            )
            connection.execute(
                "UPDATE connectors SET last_error = ? WHERE connector = ?", (error, row[0])
            )
            if forget_deploy:
                connection.execute(_FORGET_DEPLOY_OF_PUSH, (row[0], push_id))

    def abandon_unfinished(
        self, now: datetime, *, recheck_after: Mapping[str, datetime]
    ) -> list[PushRecord]:
        """Mark every push still 'started' (its process died) as abandoned; return them.

        The next cycle pushes again: a Tooling PATCH of the same body is idempotent. A push
        waiting on a Metadata deploy that may still run stays 'started' until that deploy is
        checked (`pending_deploy_push_id`). The dead process may have left a write in flight,
        so each such connector's org is checked once `recheck_after[push.api]` has passed.
        """
        with self._transaction() as connection:
            cursor = connection.execute(_SELECT_UNFINISHED)
            cursor.row_factory = sqlite3.Row
            unfinished = [_push_record(row) for row in cursor.fetchall()]
            connection.execute(_ABANDON_UNFINISHED, (now.isoformat(),))
            latest = max(recheck_after.values())
            for push in unfinished:
                # A row from another version may name an API not given: the longest wait covers it.
                due = recheck_after.get(push.api, latest)
                _postpone_recheck(connection, push.connector, due)
        return unfinished

    def doubt_writes(self, connector: str, *, until: datetime) -> None:
        """Record that a write to the connector's org may land until `until` (a timeout or a
        reset left its outcome unknown); a later recheck never moves earlier.
        """
        with self._transaction() as connection:
            _postpone_recheck(connection, connector, until)

    def clear_doubt(self, connector: str, *, settled_by: datetime) -> bool:
        """Forget the connector's doubt if every doubted write had settled by `settled_by` (the
        moment a check or a push that proves the org's body began); return whether it did.
        """
        with self._transaction() as connection:
            return _settle_doubt(connection, connector, settled_by)

    # Connector flags ---------------------------------------------------------------------------

    def set_resource_id(self, connector: str, resource_id: str | None) -> None:
        """Remember (or forget, with None) the Static Resource Id on the connector's org."""
        self._update_connector(connector, resource_id=resource_id)

    def note_org(self, connector: str, org_id: str) -> bool:
        """Record the org a connector's token belongs to. When it differs from the org the
        stored state was learnt in (a refreshed sandbox), forget what was live there, the
        resource Id, a pending deploy and a doubt, so the next decision pushes again; return
        whether that happened.
        """
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT org_id FROM connectors WHERE connector = ?", (connector,)
            ).fetchone()
            if row is not None and row[0] == org_id:
                return False
            moved = row is not None and row[0] is not None
            if moved:
                connection.execute(
                    "UPDATE connectors SET resource_id = NULL, live_sha256 = NULL, "
                    "live_content_sha256 = NULL, live_since = NULL, pending_deploy_id = NULL, "
                    "pending_deploy_sha256 = NULL, pending_deploy_push_id = NULL, "
                    "recheck_after = NULL WHERE connector = ?",
                    (connector,),
                )
            connection.execute(
                "INSERT INTO connectors (connector, org_id) VALUES (?, ?) "
                "ON CONFLICT (connector) DO UPDATE SET org_id = excluded.org_id",
                (connector, org_id),
            )
            return moved

    def set_paused(self, connector: str, *, paused: bool, reason: str | None = None) -> None:
        """Pause or resume automatic pushes to a connector."""
        self._update_connector(connector, paused=paused, paused_reason=reason if paused else None)

    def set_pending_deploy(
        self,
        connector: str,
        deploy_id: str | None,
        sha256: str | None = None,
        push_id: int | None = None,
    ) -> None:
        """Remember a Metadata deploy still running and the push it belongs to (or forget it,
        with None), so that the next cycle checks it before deploying anew.
        """
        self._update_connector(
            connector,
            pending_deploy_id=deploy_id,
            pending_deploy_sha256=sha256,
            pending_deploy_push_id=push_id,
        )

    def set_needs_authorization(
        self, connector: str, *, needed: bool, issued_at: str | None = None
    ) -> None:
        """Mark a connector as needing (re)authorization because Salesforce refused the
        authorization issued at `issued_at` (None: there was none), or clear the mark.
        """
        self._update_connector(
            connector, needs_authorization=needed, refused_issued_at=issued_at if needed else None
        )

    def record_api_usage(self, connector: str, usage: ApiUsage, at: float) -> None:
        """Remember the API usage the connector's org reported at `at` (epoch seconds)."""
        self._update_connector(
            connector, api_used=usage.used, api_allowed=usage.allowed, api_usage_at=at
        )

    # Builds ----------------------------------------------------------------------------------

    def record_build(
        self,
        connector: str,
        *,
        sha256: str,
        content_sha256: str,
        source_version: str,
        size: int,
        now: datetime,
        source_file: str | None = None,
    ) -> None:
        """Remember a build kept on disk (and the published file it came from, when known);
        building the same bytes again refreshes its time.
        """
        self._write(
            _RECORD_BUILD,
            (connector, sha256, content_sha256, source_version, size, now.isoformat(), source_file),
        )

    def record_build_keys(self, builds: Mapping[str, BuildKey]) -> None:
        """Given, per connector, the key of its build inputs and what they built to, remember
        them all in one transaction (a cycle builds many connectors).
        """
        if not builds:
            return
        with self._transaction() as connection:
            connection.executemany(
                "INSERT INTO connectors (connector, build_key, build_sha256, build_size) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (connector) DO UPDATE SET "
                "build_key = excluded.build_key, build_sha256 = excluded.build_sha256, "
                "build_size = excluded.build_size",
                [
                    (connector, build.key, build.sha256, build.size)
                    for connector, build in builds.items()
                ],
            )

    def record_token_proofs(self, proofs: Mapping[str, datetime]) -> None:
        """Given, per connector, when a token grant succeeded, remember each one that is newer
        than the one recorded, all in one transaction (a cycle or `status` proves many).
        """
        if not proofs:
            return
        rows = [(connector, at.astimezone(UTC).isoformat()) for connector, at in proofs.items()]
        try:
            with self._transaction() as connection:
                # Times in UTC ISO 8601 sort as text, so MAX keeps the later proof.
                connection.executemany(
                    "INSERT INTO connectors (connector, token_proven_at) VALUES (?, ?) "
                    "ON CONFLICT (connector) DO UPDATE SET token_proven_at = "
                    "MAX(COALESCE(token_proven_at, ''), excluded.token_proven_at)",
                    rows,
                )
        except sqlite3.Error as error:
            raise StateError(f"state store {self.path}: {error}") from None

    def forget_builds(self, connector: str, sha256s: Collection[str]) -> None:
        """Forget kept builds (their files are being removed), in one transaction."""
        with self._transaction() as connection:
            connection.executemany(
                "DELETE FROM builds WHERE connector = ? AND sha256 = ?",
                [(connector, sha256) for sha256 in sha256s],
            )


def _recheck_due(connection: sqlite3.Connection, connector: str) -> datetime | None:
    row = connection.execute(
        "SELECT recheck_after FROM connectors WHERE connector = ?", (connector,)
    ).fetchone()
    return _time(row[0]) if row is not None else None


def _settle_doubt(connection: sqlite3.Connection, connector: str, settled_by: datetime) -> bool:
    """Forget the connector's doubt if it was due by `settled_by`; return whether it did."""
    due = _recheck_due(connection, connector)
    if due is None or due > settled_by:
        return False
    connection.execute(
        "UPDATE connectors SET recheck_after = NULL WHERE connector = ?", (connector,)
    )
    return True


def _postpone_recheck(connection: sqlite3.Connection, connector: str, until: datetime) -> None:
    connection.execute(
        "INSERT INTO connectors (connector) VALUES (?) ON CONFLICT DO NOTHING", (connector,)
    )
    row = connection.execute(
        "SELECT recheck_after FROM connectors WHERE connector = ?", (connector,)
    ).fetchone()
    known = _time(row[0])
    if known is None or known < until:
        connection.execute(
            "UPDATE connectors SET recheck_after = ? WHERE connector = ?",
            (until.isoformat(), connector),
        )


def _to_sql(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _connector_state(row: sqlite3.Row) -> ConnectorState:
    return ConnectorState(
        connector=row["connector"],
        resource_id=row["resource_id"],
        live_sha256=row["live_sha256"],
        live_content_sha256=row["live_content_sha256"],
        live_since=_time(row["live_since"]),
        paused=bool(row["paused"]),
        paused_reason=row["paused_reason"],
        pending_deploy_id=row["pending_deploy_id"],
        pending_deploy_sha256=row["pending_deploy_sha256"],
        pending_deploy_push_id=row["pending_deploy_push_id"],
        needs_authorization=bool(row["needs_authorization"]),
        refused_issued_at=row["refused_issued_at"],
        api_usage=(
            (ApiUsage(used=row["api_used"], allowed=row["api_allowed"]), row["api_usage_at"])
            if row["api_usage_at"] is not None
            else None
        ),
        last_error=row["last_error"],
        recheck_after=_time(row["recheck_after"]),
        org_id=row["org_id"],
        build=(
            BuildKey(row["build_key"], row["build_sha256"], row["build_size"])
            if row["build_key"] is not None
            else None
        ),
        token_proven_at=_time(row["token_proven_at"]),
    )


def _push_record(row: sqlite3.Row) -> PushRecord:
    started = _time(row["started_at"])
    assert started is not None  # noqa: S101 - NOT NULL in the schema  # nosec B101
    return PushRecord(
        id=row["id"],
        connector=row["connector"],
        sha256=row["sha256"],
        content_sha256=row["content_sha256"],
        source_version=row["source_version"],
        api=row["api"],
        started_at=started,
        finished_at=_time(row["finished_at"]),
        outcome=row["outcome"],
        error=row["error"],
    )


def _build_record(row: sqlite3.Row) -> BuildRecord:
    built = _time(row["built_at"])
    assert built is not None  # noqa: S101 - NOT NULL in the schema  # nosec B101
    return BuildRecord(
        connector=row["connector"],
        sha256=row["sha256"],
        content_sha256=row["content_sha256"],
        source_version=row["source_version"],
        size=row["size"],
        built_at=built,
        source_file=row["source_file"],
    )
