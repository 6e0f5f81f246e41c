"""`sfsync status` rows from a real state store, and their table at 120 columns."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from rich.console import Console

from sfsync.actions.status import StatusRow, status_rows
from sfsync.actions.status_table import (
    HEADERS,
    fact_rows,
    one_line,
    plain_status,
    rich_status,
    status_cells,
    status_layout,
)
from sfsync.auth_wiring import AuthDeps
from sfsync.config import LoadedConfig, parse_config
from sfsync.state.store import StateStore
from sfsync.tokens.memory import MemoryTokenStore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SANDBOX_BUILD, UAT_BUILD = "5a" * 32, "7e" * 32
ERROR = (
    "HTTP 400 from https://uat.my.salesforce.com/services/data/v64.0/tooling/sobjects/"
    "StaticResource/081000000000001: INVALID_FIELD: Body is too large\n  second line of detail"
)
CONFIG = """
[daemon]
state_dir = "state"
[oauth]
client_id = "x"
[systems.lightning]
resource = "WalkMeLightning"
source = { type = "dir", path = "drop" }
[systems.lightning.environments.sandbox]
[systems.lightning.environments.uat]
[systems.lightning.environments.production]
requires = "sandbox"
soak = "1h"
"""


def push(
    store: StateStore, connector: str, sha256: str, at: datetime, content: str = "c" * 64
) -> int:
    return store.begin_push(
        connector, sha256=sha256, content_sha256=content, source_version="v1", api="tooling", now=at
    )


def deps_at(loaded: LoadedConfig) -> AuthDeps:
    """Dependencies with no token (so status makes no request) and the clock at NOW."""
    return AuthDeps(loaded, store=MemoryTokenStore(), http=requests.Session(), clock=lambda: NOW)


@pytest.fixture
def rows(tmp_path: Path) -> dict[str, StatusRow]:
    """Status rows of three connectors with no token (so no request is made): sandbox live for
    20 minutes, production gated on it, uat paused with a failed push and a write in doubt.
    """
    loaded = parse_config(CONFIG, tmp_path / "sfsync.toml")
    store = StateStore.open(loaded.config.daemon.state_dir)
    try:
        pushed = push(store, "lightning/sandbox", SANDBOX_BUILD, NOW - timedelta(minutes=21))
        store.finish_push(pushed, resource_id="081A", now=NOW - timedelta(minutes=20))
        failed = push(store, "lightning/uat", UAT_BUILD, NOW - timedelta(minutes=5))
        store.fail_push(failed, error=ERROR, now=NOW - timedelta(minutes=5))
        store.set_paused("lightning/uat", paused=True, reason="rolled back to 0123456789ab")
        store.doubt_writes("lightning/uat", until=NOW + timedelta(minutes=2))
    finally:
        store.close()
    return {row.connector: row for row in status_rows(loaded.connectors, deps_at(loaded))}


def test_gated_names_the_content_and_the_soak(rows: dict[str, StatusRow]) -> None:
    """A connector whose required one has new content still soaking says what and until when;
    connectors without a gate or with nothing held back say null.
    """
    assert rows["lightning/production"].gated == (
        f"waiting for lightning/sandbox: {SANDBOX_BUILD[:12]} live since "
        "2026-11-21T11:40:00+00:00, soak until 2026-11-21T12:40:00+00:00"
    )
    assert rows["lightning/sandbox"].gated is None
    assert rows["lightning/uat"].gated is None


def test_rolled_back_upstream_content_is_not_waited_for(tmp_path: Path) -> None:
    """Sandbox rolled back to content production already had: production waits for nothing,
    though that content is newly live on sandbox and still soaking.
    """
    loaded = parse_config(CONFIG, tmp_path / "sfsync.toml")
    first, second = "1" * 64, "2" * 64
    store = StateStore.open(loaded.config.daemon.state_dir)
    try:
        for connector, content, hours_ago in [
            ("lightning/sandbox", first, 5),
            ("lightning/production", first, 4),
            ("lightning/sandbox", second, 3),
            ("lightning/production", second, 2),
            ("lightning/sandbox", first, 0.1),  # the rollback
        ]:
            at = NOW - timedelta(hours=hours_ago)
            pushed = push(
                store, connector, content[:32] + connector[-32:].rjust(32, "0"), at, content
            )
            store.finish_push(pushed, resource_id="081A", now=at)
        assert store.connector("lightning/sandbox").live_content_sha256 == first
    finally:
        store.close()
    rows = status_rows(loaded.connectors, deps_at(loaded))
    assert rows[2].connector == "lightning/production"
    assert rows[2].gated is None


def test_last_result_is_the_last_push_outcome(rows: dict[str, StatusRow]) -> None:
    """last_result is the outcome of the latest push; null when nothing was pushed."""
    assert rows["lightning/sandbox"].last_result == "pushed"
    assert rows["lightning/uat"].last_result == "failed"
    assert rows["lightning/uat"].last_error == ERROR
    assert rows["lightning/production"].last_result is None


def test_status_reads_no_gate_without_a_state_store(tmp_path: Path) -> None:
    """Before any sync there is no store: status creates none and reports every key null."""
    loaded = parse_config(CONFIG, tmp_path / "sfsync.toml")
    rows = status_rows(loaded.connectors, deps_at(loaded))
    assert [row.gated for row in rows] == [None, None, None]
    assert not loaded.config.daemon.state_dir.exists()


def test_plain_cells_and_facts(rows: dict[str, StatusRow]) -> None:
    """Each connector's short facts fill one table row; gate, pause reason, doubt, error and
    note follow as one line each.
    """
    uat = status_cells(rows["lightning/uat"])
    assert len(uat) == len(HEADERS)
    assert dict(zip(HEADERS, uat, strict=True)) == {
        "CONNECTOR": "lightning/uat",
        "AUTHORIZED": "no",
        "USER": "-",
        "ORG": "-",
        "LIVE": "-",
        "LAST PUSH": "2026-11-21 11:55:00Z failed",
        "PAUSED": "yes",
    }
    assert status_cells(rows["lightning/sandbox"])[4] == SANDBOX_BUILD[:12]
    facts = [(connector, label) for connector, label, _ in fact_rows(list(rows.values()))]
    assert facts == [
        ("lightning/sandbox", "note"),
        ("lightning/uat", "paused"),
        ("lightning/uat", "in doubt"),
        ("lightning/uat", "last error"),
        ("lightning/uat", "note"),
        ("lightning/production", "gate"),
        ("lightning/production", "note"),
    ]
    error = next(
        text for _, label, text in fact_rows([rows["lightning/uat"]]) if label == "last error"
    )
    assert "\n" not in error
    assert error.startswith("HTTP 400 from https://uat.my.salesforce.com")
    assert len(error) == 100
    assert error.endswith("…")


def test_rich_table_reads_at_120_columns(rows: dict[str, StatusRow]) -> None:
    """On a 120-column terminal no line is wider, and the gate and the error are shown."""
    output = io.StringIO()
    console = Console(file=output, width=120, force_terminal=True, color_system=None)
    console.print(rich_status(list(rows.values())))
    lines = output.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 120
    text = output.getvalue()
    # The gate wraps within its column: whole once the continuation lines' indent is collapsed.
    gate = rows["lightning/production"].gated
    assert gate is not None
    assert gate in " ".join(text.split())
    error_lines = [line for line in lines if "last error" in line]
    assert len(error_lines) == 1
    assert "HTTP 400 from https://uat.my.salesforce.com" in error_lines[0]
    assert "second line of detail" not in text


def test_one_line_collapses_and_cuts() -> None:
    """A message becomes one line; a long one is cut to the width, ending in an ellipsis."""
    assert one_line("a\n  b\tc") == "a b c"
    assert one_line("x" * 30, width=10) == "x" * 9 + "…"


def wide_row(connector: str, result: str, user: str, *, error: str | None = None) -> StatusRow:
    """Return a status row of an authorized connector with a long user name and a last push."""
    system, environment = connector.split("/")
    return StatusRow(
        connector,
        system,
        environment,
        authorized=True,
        needs_authorization=False,
        user=user,
        org_id="00D5g000004ABCDEAA",
        live_sha256=SANDBOX_BUILD,
        last_push_at=(NOW - timedelta(minutes=3)).isoformat(),
        last_result=result,
        last_error=error,
        paused=result == "failed",
        paused_reason="rolled back to 0123456789ab" if result == "failed" else None,
    )


WIDE_ROWS = [
    wide_row("lightning/production", "pushed", "integration.user@acme-corp.com"),
    wide_row("portal/uat", "abandoned", "deploy.bot@acme-corp.com.uat", error=ERROR),
    wide_row("lightning/sandbox", "failed", "integration.user@acme-corp.com.sandbox"),
]


@pytest.mark.parametrize("width", [80, 120])
def test_plain_table_fits_the_width_whole(width: int) -> None:
    """At 80 and 120 columns no plain line is wider; each connector's table line holds its name
    and its last result whole, and nothing the narrower table leaves out is lost: the user and
    org follow below it.
    """
    lines = plain_status(WIDE_ROWS, width)
    assert max(len(line) for line in lines) <= width
    table, facts = lines[: lines.index("")], lines[lines.index("") + 1 :]
    by_connector = {line.split()[0]: line.split() for line in table[1:]}
    for row in WIDE_ROWS:
        cells = by_connector[row.connector]
        assert row.last_result in cells
        shown = " ".join(table + facts)
        assert row.user is not None
        assert row.user in shown
        assert row.org_id is not None
        assert row.org_id in shown
    error = next(line for line in facts if "last error" in line)
    assert "HTTP 400 from" in error
    assert error.endswith("…")


def test_plain_table_keeps_every_column_when_it_fits() -> None:
    """With room to spare, the table has every column under its full header and no account
    line; at 120 columns the org moves below, at 80 the user too, and AUTHORIZED is AUTH.
    """
    narrow_names = [replace(row, user="u", connector=row.connector[:3]) for row in WIDE_ROWS]
    assert status_layout(narrow_names, 200).headers == HEADERS
    layout = status_layout(WIDE_ROWS, 80)
    assert layout.headers == ("CONNECTOR", "AUTH", "LIVE", "LAST PUSH", "PAUSED")
    assert layout.moved == ("USER", "ORG")
    assert status_layout(WIDE_ROWS, 120).moved == ("ORG",)
    accounts = [fact for fact in fact_rows(WIDE_ROWS, layout.moved) if fact[1] == "account"]
    assert accounts[0] == (
        "lightning/production",
        "account",
        "integration.user@acme-corp.com in org 00D5g000004ABCDEAA",
    )


@pytest.mark.parametrize("width", [80, 120])
def test_rich_table_fits_the_width_whole(width: int) -> None:
    """On a terminal of 80 or 120 columns, no line is wider and no connector name or result
    is cut or folded.
    """
    output = io.StringIO()
    console = Console(file=output, width=width, force_terminal=True, color_system=None)
    console.print(rich_status(WIDE_ROWS, width))
    lines = output.getvalue().splitlines()
    assert max(len(line) for line in lines) <= width
    for row in WIDE_ROWS:
        line = next(line for line in lines if line.startswith(row.connector + " "))
        assert row.last_result in line.split()
