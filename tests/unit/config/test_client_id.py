"""client_id per environment (SPEC section 4): each org's own External Client App."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfsync.config import parse_config, short_client_id
from sfsync.errors import ConfigError

CONFIG_PATH = Path("/etc/sfsync/sfsync.toml")

TWO_ORGS = """
[oauth]
{default}

[systems.lightning]
resource = "WalkMeLightning"
source = {{ type = "dir", path = "drop" }}

[systems.lightning.environments.sandbox]
{sandbox}

[systems.lightning.environments.production]
"""


def test_an_environment_key_wins_over_the_default() -> None:
    """A sandbox's own app is used there; production falls back to [oauth] client_id."""
    text = TWO_ORGS.format(default='client_id = "PRODAPP"', sandbox='client_id = "SANDBOXAPP"')
    sandbox, production = parse_config(text, CONFIG_PATH).connectors
    assert sandbox.client_id == "SANDBOXAPP"
    assert production.client_id == "PRODAPP"


def test_without_a_default_every_environment_needs_its_own() -> None:
    """No [oauth] client_id and none on production: one line naming production's key."""
    text = TWO_ORGS.format(default="", sandbox='client_id = "SANDBOXAPP"')
    with pytest.raises(ConfigError) as caught:
        parse_config(text, CONFIG_PATH)
    message = str(caught.value)
    assert "systems.lightning.environments.production.client_id" in message
    assert "systems.lightning.environments.sandbox" not in message


def test_per_environment_keys_alone_are_enough() -> None:
    """Each environment with its own key needs no default."""
    text = TWO_ORGS.format(default="", sandbox='client_id = "A"').replace(
        "[systems.lightning.environments.production]",
        '[systems.lightning.environments.production]\nclient_id = "B"',
    )
    assert [c.client_id for c in parse_config(text, CONFIG_PATH).connectors] == ["A", "B"]


@pytest.mark.parametrize(
    ("key", "shown"),
    [("3MVG9short", "3MVG9short"), ("3MVG9" + "x" * 76 + "WXYZ", "3MVG9xxx...WXYZ")],
)
def test_short_client_id_tells_apps_apart(key: str, shown: str) -> None:
    """A real 85-character key is shortened to its ends, a short one kept whole."""
    assert short_client_id(key) == shown
