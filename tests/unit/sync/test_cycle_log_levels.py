"""Failures are loud (issue 15, SPEC section 10): each connector result is logged at the level
its meaning asks for, naming its system and the package file it came from.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from sfsync.clock import utc_now
from sfsync.config import Connector, load_config
from sfsync.salesforce.retry import RetryPolicy
from sfsync.salesforce.session import ConnectorSession
from sfsync.sources.open import open_sources
from sfsync.state.packages import PackageArchive
from sfsync.state.store import StateStore
from sfsync.sync.cycle import CycleDeps, run_cycle
from sfsync.sync.push import Pusher
from sfsync.sync.result import Result
from sfsync.tokens.memory import MemoryTokenStore

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_PACKAGE = ROOT / "examples" / "package"
CONFIG = """
[daemon]
state_dir = "state"
[oauth]
client_id = "x"
[systems.lightning]
resource = "WalkMeLightning"
source = { type = "dir", path = "lightning-drop", settle = "0s" }
[systems.lightning.environments.sandbox]
[systems.community]
resource = "WalkMeCommunity"
source = { type = "dir", path = "community-drop", settle = "0s" }
[systems.community.environments.sandbox]
[systems.empty]
resource = "WalkMeEmpty"
source = { type = "dir", path = "empty-drop", settle = "0s" }
[systems.empty.environments.sandbox]
"""


@pytest.mark.parametrize(
    ("result", "level"),
    [
        ("failed", logging.ERROR),
        ("invalid", logging.ERROR),
        ("needs_authorization", logging.ERROR),
        ("deferred", logging.WARNING),
        ("busy", logging.WARNING),
        ("waiting", logging.WARNING),
        ("pushed", logging.INFO),
        ("unchanged", logging.INFO),
        ("gated", logging.INFO),
        ("paused", logging.INFO),
        ("deploy_pending", logging.INFO),
        ("planned", logging.INFO),
        ("interrupted", logging.WARNING),
        ("verified", logging.INFO),
        ("mismatch", logging.ERROR),
    ],
)
def test_level_of_each_result(result: str, level: int) -> None:
    """Errors need an operator, warnings heal by themselves, info went as planned."""
    assert Result(result).level == level


def test_every_result_has_its_traits() -> None:
    """No result is left out of the table: each has an exit status and a level."""
    assert all(
        result.traits.level in {logging.INFO, logging.WARNING, logging.ERROR} for result in Result
    )


@pytest.fixture
def cycle_logs(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Run one cycle over three systems (a good package with no authorization, a refused
    package, nothing published) and return each connector's result line.
    """
    (tmp_path / "sfsync.toml").write_text(CONFIG)
    shutil.copytree(EXAMPLE_PACKAGE, tmp_path / "lightning-drop" / "site")
    (tmp_path / "community-drop").mkdir()
    (tmp_path / "community-drop" / "broken.zip").write_bytes(b"PK\x03\x04 not a zip at all")
    (tmp_path / "empty-drop").mkdir()
    loaded = load_config(tmp_path / "sfsync.toml")
    state_dir = loaded.config.daemon.state_dir
    store = StateStore.open(state_dir)
    archive = PackageArchive(state_dir)

    def no_session(connector: Connector) -> ConnectorSession:
        raise AssertionError(f"{connector.name}: no session may be opened")

    deps = CycleDeps(
        loaded=loaded,
        store=store,
        archive=archive,
        tokens=MemoryTokenStore(),
        session_for=no_session,
        sources=open_sources(loaded.config),
    )
    pusher = Pusher(
        store=store, archive=archive, clock=utc_now, retry=RetryPolicy(), keep_packages=3
    )
    try:
        with capture_logs() as logs:
            run_cycle(deps, pusher)
    finally:
        store.close()
    return {line["connector"]: dict(line) for line in logs if line["event"] == "connector result"}


def test_needs_authorization_is_an_error_naming_system_and_package(
    cycle_logs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """A connector that needs authorization is an error line with its system and package."""
    line = cycle_logs["lightning/sandbox"]
    assert line["result"] == "needs_authorization"
    assert line["log_level"] == "error"
    assert line["system"] == "lightning"
    assert line["package"] == str(tmp_path / "lightning-drop" / "site")


def test_refused_package_is_an_error_naming_the_file(
    cycle_logs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """A refused (invalid) package is an error line naming the file that was refused."""
    line = cycle_logs["community/sandbox"]
    assert line["result"] == "invalid"
    assert line["log_level"] == "error"
    assert line["system"] == "community"
    assert line["package"] == str(tmp_path / "community-drop" / "broken.zip")


def test_source_not_readable_yet_is_a_warning(cycle_logs: dict[str, dict[str, Any]]) -> None:
    """A source with nothing published yet is a warning, with no package to name."""
    line = cycle_logs["empty/sandbox"]
    assert line["result"] == "waiting"
    assert line["log_level"] == "warning"
    assert line["system"] == "empty"
    assert line["package"] is None
