"""The SQLite state store: private files, migrations, and one transaction per change."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sfsync.errors import StateError
from sfsync.salesforce.limits import ApiUsage
from sfsync.state.migrations import MIGRATIONS, migrate, schema_version
from sfsync.state.records import BuildKey
from sfsync.state.store import DATABASE_NAME, StateStore

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
CONNECTOR = "lightning/sandbox"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(tmp_path / "state")
    yield opened
    opened.close()


def begin(store: StateStore, sha: str = "a" * 64, now: datetime = T0) -> int:
    return store.begin_push(
        CONNECTOR, sha256=sha, content_sha256="c" * 64, source_version="v1", api="tooling", now=now
    )


def test_directory_is_0700_and_files_0600(tmp_path: Path) -> None:
    """The state directory is private to the service user, and so is every database file."""
    state_dir = tmp_path / "deep" / "state"
    store = StateStore.open(state_dir)
    begin(store)
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    for path in state_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    store.close()


def test_existing_loose_directory_is_tightened(tmp_path: Path) -> None:
    """A state directory created 0755 by hand is made 0700 on open."""
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o755)
    StateStore.open(state_dir).close()
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700


def test_migrations_run_once(tmp_path: Path) -> None:
    """Opening a store twice leaves it at the latest schema version, data intact."""
    store = StateStore.open(tmp_path)
    store.set_resource_id(CONNECTOR, "081000000000001AAA")
    store.close()
    again = StateStore.open(tmp_path)
    assert again.connector(CONNECTOR).resource_id == "081000000000001AAA"
    again.close()
    connection = sqlite3.connect(tmp_path / DATABASE_NAME)
    assert schema_version(connection) == len(MIGRATIONS)
    connection.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A store written by a newer sfsync is not silently downgraded."""
    StateStore.open(tmp_path).close()
    connection = sqlite3.connect(tmp_path / DATABASE_NAME)
    connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    connection.close()
    with pytest.raises(StateError, match="newer than this sfsync knows"):
        StateStore.open(tmp_path)


def test_not_a_database_is_a_state_error(tmp_path: Path) -> None:
    """A garbage state file gives a StateError naming it, not a traceback."""
    (tmp_path / DATABASE_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match=DATABASE_NAME):
        StateStore.open(tmp_path)


def test_unknown_connector_is_empty(store: StateStore) -> None:
    """A connector never seen has no live package, no pause and no error."""
    state = store.connector("community/test")
    assert state.live_sha256 is None
    assert not state.paused
    assert not state.needs_authorization


def test_successful_push_makes_the_build_live(store: StateStore) -> None:
    """finish_push records the outcome and the live package together."""
    push_id = begin(store)
    assert store.connector(CONNECTOR).live_sha256 is None
    store.finish_push(push_id, resource_id="081000000000001AAA", now=T0 + timedelta(seconds=2))
    state = store.connector(CONNECTOR)
    assert state.live_sha256 == "a" * 64
    assert state.live_content_sha256 == "c" * 64
    assert state.live_since == T0 + timedelta(seconds=2)
    assert state.resource_id == "081000000000001AAA"
    (record,) = store.history(CONNECTOR)
    assert record.outcome == "pushed"
    assert record.finished_at == T0 + timedelta(seconds=2)


def test_repushing_the_live_build_keeps_live_since(store: StateStore) -> None:
    """Forcing the same bytes again does not restart the soak clock of gated environments."""
    store.finish_push(begin(store), resource_id=None, now=T0)
    store.finish_push(
        begin(store, now=T0 + timedelta(hours=1)), resource_id=None, now=T0 + timedelta(hours=1)
    )
    assert store.connector(CONNECTOR).live_since == T0


def test_failed_push_keeps_what_was_live(store: StateStore) -> None:
    """A failure is recorded with its error, and the previous package stays live."""
    store.finish_push(begin(store, "a" * 64), resource_id="081x", now=T0)
    failing = begin(store, "b" * 64, now=T0 + timedelta(minutes=1))
    store.fail_push(failing, error="FIELD_INTEGRITY_EXCEPTION: bad", now=T0 + timedelta(minutes=1))
    state = store.connector(CONNECTOR)
    assert state.live_sha256 == "a" * 64
    assert state.last_error == "FIELD_INTEGRITY_EXCEPTION: bad"
    assert [record.outcome for record in store.history(CONNECTOR)] == ["failed", "pushed"]


def test_first_push_failing_records_its_error(store: StateStore) -> None:
    """A connector's very first push failing leaves its error for status (no row existed yet)."""
    store.fail_push(begin(store), error="connection refused", now=T0)
    state = store.connector(CONNECTOR)
    assert state.last_error == "connection refused"
    assert state.live_sha256 is None


def test_the_start_finds_unfinished_pushes_without_reading_the_history(tmp_path: Path) -> None:
    """Every start looks for pushes still 'started'. SQLite finds them through an index of those
    alone, not by reading every push ever made: the history is never pruned, and reading a
    million rows took 0.4 s with the file cached (3.0 s in an earlier measure).
    """
    from sfsync.state import store as store_module  # noqa: PLC0415 - the queries it runs

    StateStore.open(tmp_path).close()
    connection = sqlite3.connect(tmp_path / DATABASE_NAME)
    for query in (store_module._SELECT_UNFINISHED, store_module._ABANDON_UNFINISHED):
        plan = [
            row[-1]
            for row in connection.execute("EXPLAIN QUERY PLAN " + query, ("x",) * query.count("?"))
        ]
        assert "SCAN pushes USING INDEX pushes_started" in plan, plan
        assert "SCAN pushes" not in plan


def test_unfinished_pushes_are_abandoned_on_restart(tmp_path: Path) -> None:
    """A push whose process died is marked abandoned on the next open, and nothing became live."""
    store = StateStore.open(tmp_path)
    begin(store)
    store.close()
    reopened = StateStore.open(tmp_path)
    restart = T0 + timedelta(minutes=5)
    due = {"tooling": restart + timedelta(1), "metadata": restart + timedelta(2)}
    (abandoned,) = reopened.abandon_unfinished(restart, recheck_after=due)
    assert abandoned.outcome == "started"
    assert reopened.history(CONNECTOR)[0].outcome == "abandoned"
    assert reopened.connector(CONNECTOR).live_sha256 is None
    # The dead process may have left a write in flight: the org is checked after it settles.
    assert reopened.connector(CONNECTOR).recheck_after == restart + timedelta(1)
    later = {"tooling": T0 + timedelta(days=9), "metadata": T0 + timedelta(days=9)}
    assert reopened.abandon_unfinished(T0, recheck_after=later) == []
    assert reopened.connector(CONNECTOR).recheck_after == restart + timedelta(1)
    reopened.close()


def test_an_abandoned_deploy_is_in_doubt_for_its_api_window(tmp_path: Path) -> None:
    """A deploy request in flight when its process died may queue a deploy that runs later:
    its connector is checked after the Metadata window, not the Tooling one; a row naming an
    API not given gets the longest window.
    """
    store = StateStore.open(tmp_path)
    store.begin_push(
        CONNECTOR, sha256="a" * 64, content_sha256="c" * 64, source_version="v1",
        api="metadata", now=T0,
    )  # fmt: skip
    store.begin_push(
        "lightning/uat", sha256="a" * 64, content_sha256="c" * 64, source_version="v1",
        api="bulk", now=T0,
    )  # fmt: skip
    due = {"tooling": T0 + timedelta(seconds=30), "metadata": T0 + timedelta(minutes=6)}
    assert len(store.abandon_unfinished(T0, recheck_after=due)) == 2
    assert store.connector(CONNECTOR).recheck_after == due["metadata"]
    assert store.connector("lightning/uat").recheck_after == due["metadata"]
    store.close()


def test_doubt_only_grows_and_clears_once_settled(store: StateStore) -> None:
    """A connector's recheck time moves only later; it clears only for a proof that began at
    or after it, and says whether it did.
    """
    assert store.connector(CONNECTOR).recheck_after is None
    assert store.clear_doubt(CONNECTOR, settled_by=T0) is False
    store.doubt_writes(CONNECTOR, until=T0 + timedelta(seconds=60))
    store.doubt_writes(CONNECTOR, until=T0 + timedelta(seconds=30))
    assert store.connector(CONNECTOR).recheck_after == T0 + timedelta(seconds=60)
    assert store.clear_doubt(CONNECTOR, settled_by=T0 + timedelta(seconds=59)) is False
    assert store.connector(CONNECTOR).recheck_after == T0 + timedelta(seconds=60)
    store.doubt_writes(CONNECTOR, until=T0 + timedelta(seconds=90))
    assert store.clear_doubt(CONNECTOR, settled_by=T0 + timedelta(seconds=60)) is False
    assert store.clear_doubt(CONNECTOR, settled_by=T0 + timedelta(seconds=90)) is True
    assert store.connector(CONNECTOR).recheck_after is None


def test_doubt_survives_a_reopen(tmp_path: Path) -> None:
    """The recheck time is in the store, so a restarted daemon still checks the org."""
    store = StateStore.open(tmp_path)
    store.doubt_writes(CONNECTOR, until=T0)
    store.close()
    reopened = StateStore.open(tmp_path)
    assert reopened.connector(CONNECTOR).recheck_after == T0
    reopened.close()


def test_pause_and_resume(store: StateStore) -> None:
    """A pause carries its reason; resuming clears both."""
    store.set_paused(CONNECTOR, paused=True, reason="rollback to abc123")
    state = store.connector(CONNECTOR)
    assert state.paused
    assert state.paused_reason == "rollback to abc123"
    store.set_paused(CONNECTOR, paused=False)
    assert store.connector(CONNECTOR).paused_reason is None


def test_flags_round_trip(store: StateStore) -> None:
    """Pending deploys and authorization marks are stored as given."""
    store.set_pending_deploy(CONNECTOR, "0Af000000000001", "d" * 64)
    store.set_needs_authorization(CONNECTOR, needed=True)
    state = store.connector(CONNECTOR)
    assert (state.pending_deploy_id, state.pending_deploy_sha256) == ("0Af000000000001", "d" * 64)
    assert state.needs_authorization
    store.set_pending_deploy(CONNECTOR, None)
    assert store.connector(CONNECTOR).pending_deploy_id is None


def test_builds_are_listed_newest_first(store: StateStore) -> None:
    """Kept builds are listed newest first; rebuilding the same bytes refreshes their time."""
    for minute, sha in enumerate(["a", "b", "a"]):
        store.record_build(
            CONNECTOR,
            sha256=sha * 64,
            content_sha256="c" * 64,
            source_version="v",
            size=10,
            now=T0 + timedelta(minutes=minute),
        )
    assert [build.sha256[0] for build in store.builds(CONNECTOR)] == ["a", "b"]
    store.forget_builds(CONNECTOR, ["b" * 64])
    assert [build.sha256[0] for build in store.builds(CONNECTOR)] == ["a"]


def test_two_stores_on_one_directory_see_each_other(tmp_path: Path) -> None:
    """The CLI and the daemon open the same store; each sees the other's committed writes."""
    daemon = StateStore.open(tmp_path)
    cli = StateStore.open(tmp_path)
    cli.set_paused(CONNECTOR, paused=True, reason="rollback")
    assert daemon.connector(CONNECTOR).paused
    daemon.close()
    cli.close()


def test_a_failed_transaction_changes_nothing(store: StateStore) -> None:
    """An error inside a transaction rolls back everything it wrote."""
    push_id = begin(store)
    with pytest.raises(StateError):
        store.finish_push(push_id + 100, resource_id="081x", now=T0)
    assert store.connector(CONNECTOR).resource_id is None
    assert store.history(CONNECTOR)[0].outcome == "started"


def test_api_usage_survives_reopening_the_store(tmp_path: Path) -> None:
    """The last usage an org reported, and when, is there for the next process."""
    first = StateStore.open(tmp_path / "state")
    assert first.connector(CONNECTOR).api_usage is None
    first.record_api_usage(CONNECTOR, ApiUsage(used=88, allowed=100), 1234.5)
    first.close()
    second = StateStore.open(tmp_path / "state")
    assert second.connector(CONNECTOR).api_usage == (ApiUsage(used=88, allowed=100), 1234.5)
    second.close()


def test_a_pushed_deploy_is_forgotten_with_its_push_only(store: StateStore) -> None:
    """finish_push forgets the Metadata deploy of that push in the same transaction, and leaves
    one recorded for another push alone; fail_push keeps it (a failed poll says nothing about
    whether the deploy still runs).
    """
    first = begin(store)
    store.set_pending_deploy(CONNECTOR, "0Af1", "a" * 64, first)
    store.fail_push(first, error="poll timed out", now=T0)
    assert store.connector(CONNECTOR).pending_deploy_id == "0Af1"
    store.finish_push(first, resource_id=None, now=T0)
    assert store.connector(CONNECTOR).pending_deploy_id is None
    second, third = begin(store, "b" * 64), begin(store, "c" * 64)
    store.set_pending_deploy(CONNECTOR, "0Af2", "c" * 64, third)
    store.finish_push(second, resource_id=None, now=T0)
    assert store.connector(CONNECTOR).pending_deploy_push_id == third


def test_a_new_org_forgets_what_was_live(store: StateStore) -> None:
    """A refreshed sandbox (new org id): live build, resource Id, pending deploy and doubt are
    forgotten so the next decision pushes; pause and history stay.
    """
    assert store.note_org(CONNECTOR, "00DOLD") is False  # first sighting: nothing to forget
    push = begin(store)
    store.finish_push(push, resource_id="081OLD", now=T0)
    store.set_pending_deploy(CONNECTOR, "0AfX", "b" * 64, push)
    store.doubt_writes(CONNECTOR, until=T0 + timedelta(minutes=5))
    store.set_paused(CONNECTOR, paused=True, reason="held")
    assert store.note_org(CONNECTOR, "00DOLD") is False
    assert store.connector(CONNECTOR).live_sha256 == "a" * 64
    assert store.note_org(CONNECTOR, "00DNEW") is True
    state = store.connector(CONNECTOR)
    assert (state.org_id, state.resource_id, state.live_sha256, state.live_since) == (
        "00DNEW",
        None,
        None,
        None,
    )
    assert (state.pending_deploy_id, state.recheck_after) == (None, None)
    assert state.paused
    assert len(store.history(CONNECTOR)) == 1


def test_a_kept_build_and_its_push_are_recorded_together(store: StateStore) -> None:
    """keep_build_and_begin_push records the kept build and the 'started' push at once, and
    returns the push's id for finish_push.
    """
    push_id = store.keep_build_and_begin_push(
        CONNECTOR,
        sha256="a" * 64,
        content_sha256="c" * 64,
        source_version="v1",
        size=10,
        api="tooling",
        now=T0,
        source_file="/drop/site-v1.zip",
    )
    (build,) = store.builds(CONNECTOR)
    assert (build.sha256, build.size, build.built_at, build.source_file) == (
        "a" * 64,
        10,
        T0,
        "/drop/site-v1.zip",
    )
    (push,) = store.history(CONNECTOR)
    assert (push.id, push.outcome, push.sha256, push.started_at) == (
        push_id,
        "started",
        "a" * 64,
        T0,
    )


def test_a_finished_push_ends_a_doubt_settled_before_it_began(store: StateStore) -> None:
    """finish_push with `settled_by` clears a doubt due by then (as clear_doubt), keeps a later
    one, and returns the doubt still due.
    """
    store.doubt_writes(CONNECTOR, until=T0 + timedelta(seconds=30))
    early = begin(store)
    assert store.finish_push(early, resource_id="081x", now=T0, settled_by=T0) == T0 + timedelta(
        seconds=30
    )
    assert store.connector(CONNECTOR).recheck_after == T0 + timedelta(seconds=30)
    late = begin(store, "b" * 64)
    due = store.finish_push(late, resource_id=None, now=T0, settled_by=T0 + timedelta(seconds=30))
    assert due is None
    assert store.connector(CONNECTOR).recheck_after is None
    assert store.connector(CONNECTOR).live_sha256 == "b" * 64


def test_a_failed_deploy_is_forgotten_with_its_failure(store: StateStore) -> None:
    """fail_push with `forget_deploy` (the deploy ended) records the failure and forgets that
    push's deploy in one transaction.
    """
    push_id = begin(store)
    store.set_pending_deploy(CONNECTOR, "0Af1", "a" * 64, push_id)
    store.fail_push(push_id, error="deploy 0Af1 Failed", now=T0, forget_deploy=True)
    state = store.connector(CONNECTOR)
    assert (state.pending_deploy_id, state.pending_deploy_push_id) == (None, None)
    assert state.last_error == "deploy 0Af1 Failed"
    assert store.history(CONNECTOR)[0].outcome == "failed"


def test_a_store_before_build_keys_is_migrated_with_its_data(tmp_path: Path) -> None:
    """A store at schema 6 keeps every connector's state and gains no build key (migration 7)."""
    connection = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:6], start=1):
        for statement in (part for part in script.split(";") if part.strip()):
            connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {number}")
    connection.execute(
        "INSERT INTO connectors (connector, live_sha256) VALUES (?, ?)", (CONNECTOR, "a" * 64)
    )
    assert migrate(connection) == len(MIGRATIONS)
    connection.close()
    store = StateStore.open(tmp_path)
    state = store.connector(CONNECTOR)
    store.close()
    assert (state.live_sha256, state.build) == ("a" * 64, None)


def test_build_keys_are_recorded_and_read_back(store: StateStore) -> None:
    """What a connector's inputs built to is read back, replaced by a newer one, and kept
    apart from what is live.
    """
    store.finish_push(begin(store, "a" * 64), resource_id=None, now=T0)
    store.record_build_keys({CONNECTOR: BuildKey("k" * 64, "b" * 64, 100)})
    store.record_build_keys({CONNECTOR: BuildKey("j" * 64, "c" * 64, 200)})
    state = store.connector(CONNECTOR)
    assert state.build == BuildKey("j" * 64, "c" * 64, 200)
    assert state.live_sha256 == "a" * 64


def test_many_connectors_are_read_at_once(store: StateStore) -> None:
    """Reading many connectors (more than one query's worth) gives each its own state, in the
    order asked, and an empty one to each never seen.
    """
    names = [f"lightning/env{index:04}" for index in range(700)]
    for index, name in enumerate(names[:650]):
        store.set_resource_id(name, f"id{index}")
    states = store.connectors([*reversed(names), CONNECTOR])
    assert list(states) == [*reversed(names), CONNECTOR]
    assert [states[name].resource_id for name in names[:650]] == [
        f"id{index}" for index in range(650)
    ]
    assert states[names[-1]] == store.connector(names[-1])
    assert states[CONNECTOR].resource_id is None


def test_a_store_before_token_proofs_is_migrated_with_its_data(tmp_path: Path) -> None:
    """A store at schema 7 keeps every connector's state and has no proof yet (migration 8)."""
    connection = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:7], start=1):
        for statement in (part for part in script.split(";") if part.strip()):
            connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {number}")
    connection.execute(
        "INSERT INTO connectors (connector, live_sha256) VALUES (?, ?)", (CONNECTOR, "a" * 64)
    )
    assert migrate(connection) == len(MIGRATIONS)
    connection.close()
    store = StateStore.open(tmp_path)
    state = store.connector(CONNECTOR)
    store.close()
    assert (state.live_sha256, state.token_proven_at) == ("a" * 64, None)


def test_token_proofs_are_read_back_and_only_move_forward(store: StateStore) -> None:
    """A recorded proof is read back (in UTC); an older one never replaces a newer one."""
    other = "lightning/production"
    store.record_token_proofs({CONNECTOR: T0, other: T0 - timedelta(hours=1)})
    store.record_token_proofs({CONNECTOR: T0 - timedelta(minutes=1), other: T0})
    states = store.connectors([CONNECTOR, other])
    assert states[CONNECTOR].token_proven_at == T0
    assert states[other].token_proven_at == T0


def test_token_proofs_are_written_in_one_transaction(tmp_path: Path) -> None:
    """When one connector's proof cannot be written, none of the others' is (StateError)."""
    store = StateStore.open(tmp_path)
    refuser = sqlite3.connect(tmp_path / DATABASE_NAME)
    refuser.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON connectors WHEN NEW.connector = 'bad/env' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    refuser.commit()
    refuser.close()
    try:
        with pytest.raises(StateError, match="refused"):
            store.record_token_proofs({CONNECTOR: T0, "bad/env": T0})
        assert store.connector(CONNECTOR).token_proven_at is None
        store.record_token_proofs({CONNECTOR: T0})
        assert store.connector(CONNECTOR).token_proven_at == T0
    finally:
        store.close()


def test_latest_pushes_are_read_at_once(store: StateStore) -> None:
    """Each connector's latest push, read for many at once, is the first of its history; a
    connector never pushed has none.
    """
    names = [f"lightning/env{index:04}" for index in range(600)]
    for index, name in enumerate(names[:550]):
        for attempt in range(2):
            store.begin_push(
                name,
                sha256=f"{index:04}{attempt}".ljust(64, "a"),
                content_sha256="c" * 64,
                source_version="v1",
                api="tooling",
                now=T0 + timedelta(seconds=attempt),
            )
    latest = store.latest_pushes(names)
    assert set(latest) == set(names[:550])
    assert all(latest[name] == store.history(name, limit=1)[0] for name in names[:550])
    assert latest[names[0]].sha256.startswith("00001")


def test_a_store_before_the_started_index_is_migrated_with_its_pushes(tmp_path: Path) -> None:
    """A store at schema 8 keeps its history, and its unfinished push is still found and
    abandoned at the next start, now through the index (migration 9).
    """
    connection = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:8], start=1):
        for statement in (part for part in script.split(";") if part.strip()):
            connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {number}")
    old = StateStore(connection, tmp_path)  # as the release before it wrote, unmigrated
    old.finish_push(begin(old), resource_id="081000000000001", now=T0)
    begin(old, sha="b" * 64)
    old.close()
    store = StateStore.open(tmp_path)
    assert schema_version(store._connection) == len(MIGRATIONS)
    restart = T0 + timedelta(minutes=5)
    (abandoned,) = store.abandon_unfinished(
        restart, recheck_after={"tooling": restart, "metadata": restart}
    )
    assert abandoned.sha256 == "b" * 64
    assert [push.outcome for push in store.history(CONNECTOR)] == ["abandoned", "pushed"]
    store.close()
