"""What the CLI shows: aligned tables, the status (rich tables on a terminal, plain text to a
pipe, fitted to the width either way) and a progress bar while a sync runs on a terminal.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from sfsync.actions.history import HEADERS as HISTORY_HEADERS
from sfsync.actions.history import history_cells
from sfsync.actions.status import StatusRow
from sfsync.actions.status_table import DEFAULT_WIDTH, aligned, plain_status, rich_status
from sfsync.redact import redact_text
from sfsync.sync.cycle import ConnectorResult


def print_table(rows: Sequence[tuple[str, ...]]) -> None:
    """Given rows of cells, the first being the header, print them as left-aligned columns."""
    for line in aligned(rows):
        click.echo(line)


def history_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Given a connector's history rows (`history_rows`, at least one), return their table as
    aligned lines under a header.
    """
    return aligned([HISTORY_HEADERS, *(history_cells(row) for row in rows)])


def print_results(results: Sequence[ConnectorResult]) -> None:
    """Given a cycle's results, print one line per connector (nothing if there are none)."""
    if results:
        print_table(
            [("CONNECTOR", "RESULT", "DETAIL")]
            + [
                (result.connector, result.outcome.value, redact_text(result.detail))
                for result in results
            ]
        )


def print_status(rows: Sequence[StatusRow]) -> None:
    """Given status rows, print them as rich tables on a terminal, else as plain lines."""
    if sys.stdout.isatty():
        console = Console()
        console.print(rich_status(rows, console.width))
        return
    # $COLUMNS when set (a pipe has no width of its own), else the README's 120.
    width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    for line in plain_status(rows, width):
        click.echo(line)


@contextmanager
def sync_progress(total: int) -> Iterator[Callable[[ConnectorResult], None] | None]:
    """Yield a callback advancing a progress bar on a terminal, or None when not a terminal."""
    if not sys.stdout.isatty() or total == 0:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task("syncing", total=total)

        def advance(result: ConnectorResult) -> None:
            progress.update(task, advance=1, description=f"{result.connector}: {result.outcome}")

        yield advance
