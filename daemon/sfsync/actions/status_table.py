"""`sfsync status` for people: a table of each connector's short facts, then a line for each
longer one that is set (gate, pause, doubt, last error, note), so that it reads at 120 columns.
On a terminal both are rich tables; otherwise the CLI prints them as plain aligned text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from sfsync.config.names import authorize_arguments

HEADERS = ("CONNECTOR", "AUTHORIZED", "USER", "ORG", "LIVE", "LAST PUSH", "PAUSED")
# A last error is shown on one line, cut to this many characters; `status --json` has it whole.
ERROR_WIDTH = 100
_HASH_WIDTH = 12
# Facts shown in red on a terminal; the others in yellow.
_ALARMING = frozenset({"last error", "note"})


def status_cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    """Given a status row (`status_rows`), return its cells under HEADERS; "-" for nothing."""
    last_push = "-"
    if row["last_push_at"]:
        last_push = f"{_short_time(row['last_push_at'])} {row['last_result'] or ''}".rstrip()
    return (
        row["connector"],
        "yes" if row["authorized"] else "no",
        row["user"] or "-",
        row["org_id"] or "-",
        row["live_sha256"][:_HASH_WIDTH] if row["live_sha256"] else "-",
        last_push,
        "yes" if row["paused"] else "no",
    )


def status_facts(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Given a status row, return its longer facts that are set, as (label, text) pairs."""
    facts = []
    if row["gated"]:
        facts.append(("gate", row["gated"]))
    if row["paused"] and row.get("paused_reason"):
        facts.append(("paused", row["paused_reason"]))
    if row.get("recheck_after"):
        facts.append(("in doubt", f"the org is checked after {_short_time(row['recheck_after'])}"))
    if row.get("pending_deploy_id"):
        facts.append(("in doubt", f"Metadata deploy {row['pending_deploy_id']} may still run"))
    if row["last_error"]:
        facts.append(("last error", one_line(row["last_error"])))
    needs = row["needs_authorization"]
    command = f"run `sfsync authorize {authorize_arguments(str(row['connector']))}`"
    note = row["auth_error"] or (command if needs else None)
    if note:
        facts.append(("note", one_line(note)))
    return facts


def one_line(text: str, width: int = ERROR_WIDTH) -> str:
    """Given a message, return it on one line (whitespace collapsed), cut to `width` with "…"."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def fact_rows(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """Given status rows, return every fact that is set as (connector, label, text)."""
    return [(row["connector"], label, text) for row in rows for label, text in status_facts(row)]


def rich_status(rows: Sequence[Mapping[str, Any]]) -> Group:
    """Given status rows, return the status for a terminal: the table, then the facts, whose
    text wraps to fit (a last error stays on one line).
    """
    table = Table(
        box=box.SIMPLE_HEAD,
        header_style="bold",
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    for header in HEADERS:
        table.add_column(header, no_wrap=header != "USER", overflow="fold")
    for row in rows:
        styles = {
            "AUTHORIZED": "" if row["authorized"] else "red",
            "LAST PUSH": "red" if row["last_result"] in {"failed", "abandoned"} else "",
            "PAUSED": "yellow" if row["paused"] else "",
        }
        cells = zip(HEADERS, status_cells(row), strict=True)
        table.add_row(*(Text(cell, style=styles.get(header, "")) for header, cell in cells))
    facts = Table(box=None, show_header=False, pad_edge=False)
    facts.add_column(no_wrap=True)
    facts.add_column(no_wrap=True)
    facts.add_column(overflow="fold")
    for connector, label, text in fact_rows(rows):
        style = "red" if label in _ALARMING else "yellow"
        cell = Text(text, style=style, no_wrap=label == "last error", overflow="ellipsis")
        facts.add_row(connector, Text(label, style=style), cell)
    return Group(table, Text(""), facts) if facts.row_count else Group(table)


def _short_time(iso: str) -> str:
    """Given an ISO 8601 time, return it in UTC to the second, e.g. 2026-11-21 12:00:05Z."""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
