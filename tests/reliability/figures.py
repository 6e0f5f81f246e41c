"""The reliability suite's summary table: each test records its figures with the `figures`
fixture, and the session ends with one table, also written to `reliability-results.json` at
the project root.

Under pytest-xdist each worker records its own figures and hands them to the controller when
it finishes (`workeroutput`), so the controller's table holds every worker's rows. This module
is a plugin (the root conftest loads it): the controller collects no test, so it never loads
the reliability tier's own conftest.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCALE = os.environ.get("RELIABILITY_SCALE", "quick")
# The key of a worker's figures in what it hands back to the controller.
WORKER_KEY = "reliability_figures"


@dataclass(frozen=True)
class Figure:
    """One line of the summary: what was measured, the figure, and whether it held."""

    area: str
    measure: str
    value: str
    held: bool


_FIGURES: list[Figure] = []
# The security section counts the attack replays by their reports, which under xdist reach
# the controller from every worker: only the controller (or a run without xdist) counts.
_SECURITY = "tests/reliability/security/"
_TRIED: set[str] = set()
_THROUGH: set[str] = set()
_COUNTING = [True]  # False on an xdist worker


class Figures:
    """Records figures for the summary table."""

    def add(self, area: str, measure: str, value: object, *, held: bool = True) -> None:
        """Record one figure."""
        _FIGURES.append(Figure(area, measure, str(value), held))


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workeroutput")


def pytest_configure(config: pytest.Config) -> None:
    """Note whether this process is an xdist worker, which leaves the counting to the controller."""
    _COUNTING[0] = not _is_worker(config)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count each security replay once, by its outcome (setup or teardown failures count as
    through).
    """
    if not _COUNTING[0] or not report.nodeid.startswith(_SECURITY) or report.skipped:
        return
    _TRIED.add(report.nodeid)
    if report.failed:
        _THROUGH.add(report.nodeid)


def _add_security_figures() -> None:
    """Add the security section's two figures: replays run, and attacks that got through."""
    if not _TRIED:
        return
    figures = Figures()
    figures.add("security", "attack replays run", len(_TRIED))
    through = sorted(_THROUGH)
    figures.add(
        "security",
        "attacks that got through (goal 0)",
        len(through) if not through else f"{len(through)}: {', '.join(through)[:60]}",
        held=not through,
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker, hand this worker's figures to the controller."""
    if _is_worker(session.config):
        output: dict[str, Any] = session.config.workeroutput  # type: ignore[attr-defined]
        output[WORKER_KEY] = [asdict(figure) for figure in _FIGURES]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller, take the figures of a worker that finished."""
    output = getattr(node, "workeroutput", {})
    _FIGURES.extend(Figure(**fields) for fields in output.get(WORKER_KEY, []))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Print the figures as one table and write them as JSON (on the controller only)."""
    if _is_worker(config):
        return
    _add_security_figures()
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
