"""The state store's schema, as an ordered list of migrations applied in one transaction each.

A migration is never edited once released: a change is a new entry at the end, so that every
existing store reaches the same schema by replaying what it lacks.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: connectors, their push history, and the builds kept on disk for rollback and verify.
    """
    CREATE TABLE connectors (
        connector TEXT PRIMARY KEY,
        resource_id TEXT,
        live_sha256 TEXT,
        live_content_sha256 TEXT,
        live_since TEXT,
        paused INTEGER NOT NULL DEFAULT 0,
        paused_reason TEXT,
        pending_deploy_id TEXT,
        pending_deploy_sha256 TEXT,
        pending_deploy_push_id INTEGER,
        needs_authorization INTEGER NOT NULL DEFAULT 0,
        last_refresh_at TEXT,
        last_error TEXT
    );
    CREATE TABLE pushes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        connector TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        content_sha256 TEXT NOT NULL,
        source_version TEXT NOT NULL,
        api TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT NOT NULL DEFAULT 'started'
            CHECK (outcome IN ('started', 'pushed', 'failed', 'abandoned')),
        error TEXT
    );
    CREATE INDEX pushes_by_connector ON pushes (connector, id);
    CREATE TABLE builds (
        connector TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        content_sha256 TEXT NOT NULL,
        source_version TEXT NOT NULL,
        size INTEGER NOT NULL,
        built_at TEXT NOT NULL,
        PRIMARY KEY (connector, sha256)
    );
    """,
    # 2: which authorization Salesforce refused (its `issued_at`), so that a new `sfsync
    # authorize` lifts the mark without anyone touching the store.
    """
    ALTER TABLE connectors ADD COLUMN refused_issued_at TEXT
    """,
    # 3: the last API usage the org reported and when, so that the next process (a CLI run
    # after another) defers on it as the daemon's next cycle would.
    """
    ALTER TABLE connectors ADD COLUMN api_used INTEGER;
    ALTER TABLE connectors ADD COLUMN api_allowed INTEGER;
    ALTER TABLE connectors ADD COLUMN api_usage_at REAL
    """,
    # 4: when a write whose outcome is unknown (a timeout, a reset, a killed process) can no
    # longer land, so that the org's body is checked once after it even if nothing changes.
    """
    ALTER TABLE connectors ADD COLUMN recheck_after TEXT
    """,
    # 5: the org the connector's live state belongs to, so that a refreshed sandbox (a new org
    # id, holding production's copy of the resource) is pushed again, not trusted.
    """
    ALTER TABLE connectors ADD COLUMN org_id TEXT
    """,
    # 6: the published file a build was made from, for `sfsync history` (null for builds
    # kept before it, and for rollbacks, which re-push a kept build).
    """
    ALTER TABLE builds ADD COLUMN source_file TEXT
    """,
    # 7: what the connector's build inputs (the published content, its settings, the builder)
    # last built to, so that a cycle that finds the same inputs decides without building.
    """
    ALTER TABLE connectors ADD COLUMN build_key TEXT;
    ALTER TABLE connectors ADD COLUMN build_sha256 TEXT;
    ALTER TABLE connectors ADD COLUMN build_size INTEGER
    """,
    # 8: when a token grant for the connector last succeeded, in any process: the keep-alive
    # and `status` read it, so that a refresh that changed nothing writes nothing to the keyring.
    """
    ALTER TABLE connectors ADD COLUMN token_proven_at TEXT
    """,
    # 9: the pushes still 'started', which every start looks for, found without reading the
    # whole history (0.4 s a million rows with the file cached; 3.0 s in an earlier measure; the
    # history grows by every push and is never pruned).
    """
    CREATE INDEX pushes_started ON pushes (id) WHERE outcome = 'started'
    """,
)


def schema_version(connection: sqlite3.Connection) -> int:
    """Given a connection, return how many migrations its database has had."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def migrate(connection: sqlite3.Connection) -> int:
    """Given a connection in autocommit mode, apply the migrations it lacks; return the version.

    Each migration and its version bump commit together, so a crash leaves either the old or the
    new schema, never half of one.
    """
    current = schema_version(connection)
    if current > len(MIGRATIONS):
        msg = (
            f"the state store has schema version {current}, newer than this sfsync knows "
            f"({len(MIGRATIONS)}); upgrade sfsync or restore the state directory"
        )
        raise RuntimeError(msg)
    for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
        statements = [part.strip() for part in script.split(";") if part.strip()]
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    return len(MIGRATIONS)
