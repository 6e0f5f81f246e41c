"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfsync.tokens import secret_env
from tests.fixtures.alone import turn
from tests.fixtures.site import stop_started

# The reliability summary table is a plugin: under xdist the controller, which collects no
# test, must still gather the workers' figures and print the table.
pytest_plugins = ["tests.reliability.figures"]


@pytest.fixture(autouse=True)
def _alone_if_marked(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Under xdist, run a test marked `alone` with no other test beside it (see alone.py)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    # Every worker's base temp folder sits in the run's own folder, which they all share.
    locks = tmp_path_factory.getbasetemp().parent / "locks"
    with turn(locks, alone=request.node.get_closest_marker("alone") is not None):
        yield


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Give every test its own HOME and no inherited sfsync config."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SFSYNC_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    return home


@pytest.fixture(autouse=True)
def _no_secret_taken_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test with no secret variable taken, as a new process does: the CLI keeps the
    keyring passphrase it took out of the environment for the rest of the process, so an
    in-process command of one test found the passphrase another test had given.
    """
    monkeypatch.setattr(secret_env, "_taken", {})


@pytest.fixture(autouse=True)
def _no_cli_left_running() -> Iterator[None]:
    """Stop any CLI a test started in the background and did not finish (see auth_support)."""
    yield

    stop_started()
