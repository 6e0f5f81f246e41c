"""`sfsync status` for people: a table of each connector's short facts, then a line for each
longer one that is set (gate, pause, doubt, last error, note), fitted to the width (80 and
120 columns alike): a connector's name and its last result are never cut; at narrower widths
AUTHORIZED shortens to AUTH, the last push's time to month, day and minute, and the user and
org leave the table for an "account" line below it. On a terminal both are rich tables;
otherwise the CLI prints them as plain aligned text.
"""

from __future__ import annotations

import textwrap
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from sfsync.actions.status import StatusRow
from sfsync.config.names import authorize_arguments

HEADERS = ("CONNECTOR", "AUTHORIZED", "USER", "ORG", "LIVE", "LAST PUSH", "PAUSED")
DEFAULT_WIDTH = 120  # when the width cannot be known (stdout is not a terminal, no $COLUMNS)
_GAP = 2  # spaces between plain columns
# The narrowest a fact's text gets, however long the connector's name.
_MIN_TEXT_WIDTH = 20
# A last error is shown on one line, cut to this many characters; `status --json` has it whole.
ERROR_WIDTH = 100
_HASH_WIDTH = 12
# Facts shown in red on a terminal; the others in yellow.
_ALARMING = frozenset({"last error", "note"})


def status_cells(row: StatusRow) -> tuple[str, ...]:
    """Given a status row (`status_rows`), return its cells under HEADERS; "-" for nothing."""
    last_push = _last_push(row, short=False)
    return (
        row.connector,
        "?" if row.authorized is None else ("yes" if row.authorized else "no"),
        row.user or "-",
        row.org_id or "-",
        row.live_sha256[:_HASH_WIDTH] if row.live_sha256 else "-",
        last_push,
        "yes" if row.paused else "no",
    )


def status_facts(row: StatusRow, moved: Collection[str] = ()) -> list[tuple[str, str]]:
    """Given a status row, return its longer facts that are set, as (label, text) pairs;
    first, the user and org when the table left them out (`moved`, their headers).
    """
    facts = []
    if "USER" in moved and (row.user or row.org_id):
        facts.append(("account", f"{row.user or '-'} in org {row.org_id or '-'}"))
    elif "ORG" in moved and row.org_id:
        facts.append(("org", row.org_id))
    if row.gated:
        facts.append(("gate", row.gated))
    if row.paused and row.paused_reason:
        facts.append(("paused", row.paused_reason))
    if row.recheck_after:
        facts.append(("in doubt", f"the org is checked after {_short_time(row.recheck_after)}"))
    if row.pending_deploy_id:
        facts.append(("in doubt", f"Metadata deploy {row.pending_deploy_id} may still run"))
    if row.last_error:
        facts.append(("last error", one_line(row.last_error)))
    needs = row.needs_authorization
    command = f"run `sfsync authorize {authorize_arguments(row.connector)}`"
    note = row.auth_error or (command if needs else None)
    if note:
        facts.append(("note", one_line(note)))
    return facts


def one_line(text: str, width: int = ERROR_WIDTH) -> str:
    """Given a message, return it on one line (whitespace collapsed), cut to `width` with "…"."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def fact_rows(rows: Sequence[StatusRow], moved: Collection[str] = ()) -> list[tuple[str, str, str]]:
    """Given status rows (and the columns the table left out), return every fact that is set
    as (connector, label, text).
    """
    return [
        (row.connector, label, text) for row in rows for label, text in status_facts(row, moved)
    ]


@dataclass(frozen=True)
class Layout:
    """How the table is cut to a width: its headers and cells, and the columns that moved
    below it (ORG as each connector's "org" fact; USER and ORG as its "account" fact).
    """

    headers: tuple[str, ...]
    cells: list[tuple[str, ...]]
    moved: tuple[str, ...]

    def width(self) -> int:
        """Return the plain table's width: its columns and the gaps between them."""
        table = [self.headers, *self.cells]
        widths = [max(len(line[column]) for line in table) for column in range(len(self.headers))]
        return sum(widths) + _GAP * (len(widths) - 1)


# From the widest to the narrowest: (AUTHORIZED's header, short times, keep USER, keep ORG).
_VARIANTS = (
    ("AUTHORIZED", False, True, True),
    ("AUTH", False, True, True),
    ("AUTH", True, True, True),
    ("AUTH", True, True, False),
    ("AUTH", True, False, False),
)


def status_layout(rows: Sequence[StatusRow], width: int) -> Layout:
    """Given status rows and the width to fit, return the widest layout of the table that
    fits (the narrowest when none does: a connector's name and its result are never cut).
    """
    layout = None
    for authorized, short_times, keep_user, keep_org in _VARIANTS:
        full = [status_cells(row) for row in rows]
        if short_times:
            full = [
                (*cells[:5], _last_push(row, short=True), cells[6])
                for cells, row in zip(full, rows, strict=True)
            ]
        dropped = ("USER",) * (not keep_user) + ("ORG",) * (not keep_org)
        keep = [index for index, header in enumerate(HEADERS) if header not in dropped]
        headers = tuple(
            authorized if HEADERS[index] == "AUTHORIZED" else HEADERS[index] for index in keep
        )
        layout = Layout(
            headers,
            [tuple(cells[index] for index in keep) for cells in full],
            moved=dropped,
        )
        if layout.width() <= width:
            return layout
    if layout is None:  # only if _VARIANTS were empty
        raise ValueError("no status table layout defined")
    return layout


def plain_status(rows: Sequence[StatusRow], width: int = DEFAULT_WIDTH) -> list[str]:
    """Given status rows and a width, return the status as plain lines: the table, then (after
    a blank line) the facts, whose text wraps under itself; a last error is cut to one line.
    """
    layout = status_layout(rows, width)
    lines = aligned([layout.headers, *layout.cells])
    facts = fact_rows(rows, layout.moved)
    if not facts:
        return lines
    name_width = max(len(connector) for connector, _, _ in facts)
    label_width = max(len(label) for _, label, _ in facts)
    indent = name_width + label_width + 2 * _GAP
    text_width = max(_MIN_TEXT_WIDTH, width - indent)
    lines.append("")
    for connector, label, text in facts:
        if label == "last error":
            parts = [one_line(text, min(ERROR_WIDTH, text_width))]
        else:
            parts = textwrap.wrap(text, text_width, break_on_hyphens=False) or [""]
        lead = f"{connector.ljust(name_width)}{' ' * _GAP}{label.ljust(label_width)}{' ' * _GAP}"
        lines.append(lead + parts[0])
        lines.extend(" " * indent + part for part in parts[1:])
    return lines


def aligned(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Given rows of cells (the first a header), return them as left-aligned plain lines."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        (" " * _GAP)
        .join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        .rstrip()
        for row in rows
    ]


def rich_status(rows: Sequence[StatusRow], width: int = DEFAULT_WIDTH) -> Group:
    """Given status rows and the terminal's width, return the status for a terminal: the
    table as it fits the width, then the facts, whose text wraps to fit (a last error stays on
    one line).
    """
    # A rich column is one space wider than a plain one, on each side of a separator.
    layout = status_layout(rows, width - len(HEADERS))
    table = Table(
        box=box.SIMPLE_HEAD,
        header_style="bold",
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    for header in layout.headers:
        table.add_column(header, no_wrap=header != "USER", overflow="fold")
    for row, row_cells in zip(rows, layout.cells, strict=True):
        styles = {
            "AUTHORIZED": "" if row.authorized else "red",
            "AUTH": "" if row.authorized else "red",
            "LAST PUSH": "red" if row.last_result in {"failed", "abandoned"} else "",
            "PAUSED": "yellow" if row.paused else "",
        }
        cells = zip(layout.headers, row_cells, strict=True)
        table.add_row(*(Text(cell, style=styles.get(header, "")) for header, cell in cells))
    facts = Table(box=None, show_header=False, pad_edge=False)
    facts.add_column(no_wrap=True)
    facts.add_column(no_wrap=True)
    facts.add_column(overflow="fold")
    for connector, label, text in fact_rows(rows, layout.moved):
        style = "red" if label in _ALARMING else "yellow"
        cell = Text(text, style=style, no_wrap=label == "last error", overflow="ellipsis")
        facts.add_row(connector, Text(label, style=style), cell)
    return Group(table, Text(""), facts) if facts.row_count else Group(table)


def _last_push(row: StatusRow, *, short: bool) -> str:
    """Given a status row, return its LAST PUSH cell: when, then the result (never cut)."""
    if not row.last_push_at:
        return "-"
    when = _short_time(row.last_push_at, "%m-%d %H:%MZ" if short else "%Y-%m-%d %H:%M:%SZ")
    return f"{when} {row.last_result or ''}".rstrip()


def _short_time(iso: str, form: str = "%Y-%m-%d %H:%M:%SZ") -> str:
    """Given an ISO 8601 time, return it in UTC to the second, e.g. 2026-11-21 12:00:05Z."""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime(form)
