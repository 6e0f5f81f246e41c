"""--env and --system: the system may be left out when only one exists; errors list choices."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from sfsync.actions.connectors import select_by_environment, select_for_authorize
from sfsync.config import Connector
from sfsync.config.schema import DirSource
from sfsync.errors import UsageError


def _connector(system: str, environment: str) -> Connector:
    return Connector(
        system=system,
        environment=environment,
        resource="R",
        cache_control="Public",
        source=DirSource(type="dir", path=Path("/x"), settle=timedelta(seconds=1)),
        settings_file="settings.json",
        login_url="https://test.salesforce.com",
        client_id="APP",
        api="tooling",
        overrides={},
        verify=False,
        requires=None,
        soak=None,
    )


ONE = [_connector("lightning", "sandbox"), _connector("lightning", "production")]
TWO = [*ONE, replace(_connector("community", "sandbox"))]


def test_system_may_be_left_out_with_one_system() -> None:
    """With one system, --env alone picks the connector."""
    assert select_by_environment(ONE, "production", None).name == "lightning/production"


def test_system_required_with_several() -> None:
    """With several systems, leaving --system out lists them."""
    with pytest.raises(UsageError, match=r"--system .lightning, community"):
        select_by_environment(TWO, "sandbox", None)


def test_unknown_environment_lists_the_valid_ones() -> None:
    """A wrong --env names the environments the system has."""
    with pytest.raises(UsageError, match=r"no environment 'uat' .configured: sandbox, production"):
        select_by_environment(ONE, "uat", "lightning")


def test_unknown_system_lists_the_valid_ones() -> None:
    """A wrong --system names the configured systems."""
    with pytest.raises(UsageError, match=r"no system 'x' in the config .configured: lightning"):
        select_by_environment(ONE, "sandbox", "x")


def test_all_systems_picks_every_system_of_the_environment() -> None:
    """--all-systems: every system that has the environment, in config order."""
    chosen = select_for_authorize(TWO, "sandbox", (), all_systems=True)
    assert [c.name for c in chosen] == ["lightning/sandbox", "community/sandbox"]


def test_repeated_system_picks_each_once() -> None:
    """--system repeated: each named system, a repeat counted once."""
    chosen = select_for_authorize(
        TWO, "sandbox", ("community", "lightning", "community"), all_systems=False
    )
    assert [c.name for c in chosen] == ["community/sandbox", "lightning/sandbox"]


def test_all_systems_and_system_together_are_refused() -> None:
    """--all-systems with --system is a usage error, not a guess."""
    with pytest.raises(UsageError, match="not both"):
        select_for_authorize(TWO, "sandbox", ("lightning",), all_systems=True)


def test_all_systems_with_an_unknown_environment_names_the_valid_ones() -> None:
    """--all-systems for an environment nobody has lists the environments."""
    with pytest.raises(UsageError, match=r"no system has environment 'uat'"):
        select_for_authorize(TWO, "uat", (), all_systems=True)
