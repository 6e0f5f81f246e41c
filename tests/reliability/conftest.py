"""The reliability suite (`make reliability`; `make test` runs it shortened): each test records
its figures with the `figures` fixture, and the session ends with one summary table, also
written to `reliability-results.json` at the project root.

RELIABILITY_SCALE=full (what `make reliability` sets) runs the sizes the issue asks for; the
default, "quick", runs the same checks smaller so that CI stays fast.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCALE = os.environ.get("RELIABILITY_SCALE", "quick")


@dataclass(frozen=True)
class Figure:
    """One line of the summary: what was measured, the figure, and whether it held."""

    area: str
    measure: str
    value: str
    held: bool


_FIGURES: list[Figure] = []


class Figures:
    """Records figures for the summary table."""

    def add(self, area: str, measure: str, value: object, *, held: bool = True) -> None:
        """Record one figure."""
        _FIGURES.append(Figure(area, measure, str(value), held))


@pytest.fixture
def figures() -> Figures:
    """The summary table's recorder."""
    return Figures()


@pytest.fixture
def scale() -> str:
    """Return "full" under `make reliability`, else "quick"."""
    return SCALE


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures as one table and write them as JSON."""
    if not _FIGURES:
        return
    write = terminalreporter.write_line
    write("")
    write(f"reliability summary (scale: {SCALE})")
    width = max(len(f"{figure.area}: {figure.measure}") for figure in _FIGURES)
    for figure in _FIGURES:
        label = f"{figure.area}: {figure.measure}"
        write(f"  {label:<{width}}  {figure.value:<24} {'held' if figure.held else 'MISSED'}")
    (ROOT / "reliability-results.json").write_text(
        json.dumps({"scale": SCALE, "figures": [asdict(f) for f in _FIGURES]}, indent=2) + "\n"
    )
