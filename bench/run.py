"""sfsync's benchmark: how it compares with a cron job around a simple-salesforce script, on
this machine, in one run. Every row runs against the emulator over HTTPS on loopback with a
fixed per-request latency standing in for a real org, and prints its target beside the figure.

    .venv/bin/python -m bench.run            # the full run (make bench), under 10 minutes
    .venv/bin/python -m bench.run --quick    # each row once and smaller (make bench-quick, CI)

Writes bench/results.json (or --output). The full run exits 1 if a target is missed; both exit
2 if a row could not be measured (a broken benchmark); --quick never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import (
    api_calls,
    build_tree,
    cli_keyring,
    fanout,
    keyring_cost,
    latency,
    memory,
    scale,
)
from bench.common import Measurement, Mode
from bench.machine import describe_machine
from tests.fixtures.secret_service import secret_service, secret_service_available

Row = Callable[[Mode, Mapping[str, str]], list[Measurement]]
ROWS: dict[str, tuple[str, Row]] = {
    "1": ("API calls per sync", api_calls.measure),
    "4": ("Build: 3,000 files vs zip -X -r -9", build_tree.measure),
    "2": ("Publish-to-live latency (sfsync run, dir source)", latency.measure),
    "3": ("Fan-out and idle cost (200 connectors)", fanout.measure),
    "6": ("Memory under push", memory.measure),
    "7": ("The CLI on the cryptfile keyring", cli_keyring.measure),
    "K": ("Keyring start-up cost", keyring_cost.measure),
    "S": ("Scale: 1,000 and 10,000 connectors on the shipped keyring", scale.measure),
}
# Rows the full run leaves out unless `--rows` names them: they take far longer than the rest.
LONG_ROWS = frozenset({"S"})
DEFAULT_OUTPUT = Path(__file__).with_name("results.json")


def main(argv: list[str] | None = None) -> int:
    """Run the selected rows, print the table, write the results; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="each row once, smaller (CI)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results JSON")
    parser.add_argument(
        "--rows", help="rows to run, e.g. 1,4 (default: all; the full run leaves out S)"
    )
    arguments = parser.parse_args(argv)
    console = Console(width=150)
    machine = describe_machine()
    console.print(
        f"[bold]sfsync benchmark[/] ({'quick' if arguments.quick else 'full'}) "
        f"on {machine['cpu']}, "
        f"{machine['cores']} cores, {machine['memory_gb']} GB, {machine['python']}, "
        f"{machine['kernel']}; load average at start {machine['load_average']}"
    )
    started = time.monotonic()
    measurements: list[Measurement] = []
    broken: dict[str, str] = {}
    durations: dict[str, float] = {}
    default = [row for row in ROWS if arguments.quick or row not in LONG_ROWS]
    selected = _selected_rows(arguments.rows or ",".join(default))
    with tempfile.TemporaryDirectory(prefix="sfsync-bench-") as scratch:
        keyring_env = _start_keyring(Path(scratch))
        with keyring_env as environment:
            os.environ.update(environment)  # sfsync's token store in this process uses it too
            for row in selected:
                title, measure = ROWS[row]
                console.print(f"row {row}: {title} ...")
                row_started = time.monotonic()
                try:
                    found = measure(
                        Mode(arguments.quick, Path(scratch) / f"row-{row}"), environment
                    )
                except Exception as error:  # noqa: BLE001 - one broken row must not hide the rest
                    traceback.print_exc()
                    last = (str(error).strip().splitlines() or [""])[-1]
                    broken[row] = f"{type(error).__name__}: {last}"
                    continue
                measurements += found
                durations[row] = round(time.monotonic() - row_started, 1)
                console.print(f"  done in {durations[row]:.0f} s")
    wall = time.monotonic() - started
    _print_table(console, measurements, broken)
    console.print(f"wall time {wall:.0f} s; load average at end {list(os.getloadavg())}")
    _write(arguments.output, arguments.quick, machine, wall, durations, measurements, broken)
    return _status(measurements, broken, quick=arguments.quick)


def _start_keyring(home: Path) -> Any:
    if not secret_service_available():
        raise SystemExit(
            "bench: dbus-daemon and gnome-keyring-daemon are needed (run `make system-deps`)"
        )
    return secret_service(home / "keyring-home", home / "keyring-home" / "run")


def _selected_rows(text: str) -> list[str]:
    """Given `--rows`, return the rows to run, in the table's order; row 5 (idle cost) is
    measured by row 3's daemon, so asking for 5 runs 3. Exit 2 naming an unknown row.
    """
    asked = {row.strip().upper() for row in text.split(",") if row.strip()}
    unknown = sorted(asked - set(ROWS) - {"5"})
    if unknown:
        print(f"bench: unknown row(s) {', '.join(unknown)}; rows: 1-7, K and S", file=sys.stderr)
        raise SystemExit(2)
    if "5" in asked:
        asked = (asked - {"5"}) | {"3"}
    return [row for row in ROWS if row in asked]


def _print_table(console: Console, rows: list[Measurement], broken: Mapping[str, str]) -> None:
    table = Table(title="sfsync vs the baseline, on this machine", show_lines=False)
    for name, justify in (
        ("row", "left"),
        ("case", "left"),
        ("measured", "right"),
        ("target", "left"),
        ("met", "center"),
        ("note", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for item in rows:
        met = "-" if item.met is None else ("[green]yes[/]" if item.met else "[red]NO[/]")
        table.add_row(item.row, item.case, _figure(item), item.target, met, item.note)
    for row, error in broken.items():
        table.add_row(row, ROWS[row][0], "[red]broken[/]", "", "", error)
    console.print(table)


def _figure(item: Measurement) -> str:
    value = item.value
    if item.unit == "calls":
        return f"{value:g}"
    if item.unit == "x":
        return f"{value:.2f}x"
    precision = 3 if item.unit == "s" and value < 10 else 1
    return f"{value:,.{precision}f} {item.unit}"


def _write(  # noqa: PLR0917 - private, called once
    path: Path,
    quick: bool,
    machine: Mapping[str, Any],
    wall: float,
    durations: Mapping[str, float],
    rows: list[Measurement],
    broken: Mapping[str, str],
) -> None:
    payload = {
        "mode": "quick" if quick else "full",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": dict(machine),
        "wall_seconds": round(wall, 1),
        "row_seconds": dict(durations),
        "rows": [asdict(item) for item in rows],
        "broken": dict(broken),
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")


def _status(rows: list[Measurement], broken: Mapping[str, str], *, quick: bool) -> int:
    if broken or any(not math.isfinite(item.value) for item in rows):
        return 2
    if not quick and any(item.met is False for item in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
