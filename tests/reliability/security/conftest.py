"""The security section of `make reliability`'s table: how many attack replays ran, and how many
got through (a replay that fails is an attack that got through; the goal is 0).
"""

from __future__ import annotations

import pytest

_TRIED: set[str] = set()
_THROUGH: set[str] = set()
_HERE = "tests/reliability/security/"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count each replay once, by its outcome (setup or teardown failures count as through)."""
    if not report.nodeid.startswith(_HERE) or report.skipped:
        return
    _TRIED.add(report.nodeid)
    if report.failed:
        _THROUGH.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Add the two figures before the summary table is printed."""
    if not _TRIED:
        return
    # The reliability conftest's recorder, found as a plugin: both files are named conftest.
    (reliability,) = [
        plugin
        for plugin in session.config.pluginmanager.get_plugins()
        if str(getattr(plugin, "__file__", "")).endswith("tests/reliability/conftest.py")
    ]
    figures = reliability.Figures()
    figures.add("security", "attack replays run", len(_TRIED))
    through = sorted(_THROUGH)
    figures.add(
        "security",
        "attacks that got through (goal 0)",
        len(through) if not through else f"{len(through)}: {', '.join(through)[:60]}",
        held=not through,
    )
