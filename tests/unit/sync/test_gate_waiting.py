"""What a promotion gate holds back, as `sfsync status` says: the gate `decide` acts on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sfsync.config import parse_config
from sfsync.state.records import ConnectorState
from sfsync.sync.plan import Action, Gate, decide, gate_of, gate_waiting

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
GATE = Gate(requires="lightning/sandbox", soak=timedelta(hours=1))
BUILD, CONTENT, OLD_CONTENT = "b" * 64, "c" * 64, "o" * 64
CONFIG = """
[daemon]
state_dir = "state"
[oauth]
client_id = "x"
[systems.lightning]
resource = "WalkMeLightning"
source = { type = "dir", path = "drop" }
[systems.lightning.environments.sandbox]
[systems.lightning.environments.test]
requires = "sandbox"
[systems.lightning.environments.production]
requires = "test"
soak = "2h"
"""


def sandbox(
    since: datetime | None = NOW - timedelta(minutes=20), content: str = CONTENT
) -> ConnectorState:
    return ConnectorState(
        "lightning/sandbox", live_sha256=BUILD, live_content_sha256=content, live_since=since
    )


def production(content: str | None = OLD_CONTENT) -> ConnectorState:
    return ConnectorState("lightning/production", live_sha256="p" * 64, live_content_sha256=content)


def test_soaking_content_is_described_with_its_times() -> None:
    """Content live upstream for less than the soak: named by hash, with since and until."""
    assert gate_waiting(GATE, production(), sandbox(), NOW) == (
        "waiting for lightning/sandbox: bbbbbbbbbbbb live since 2026-11-21T11:40:00+00:00, "
        "soak until 2026-11-21T12:40:00+00:00"
    )


def test_a_never_pushed_connector_waits_too() -> None:
    """A connector with nothing live yet waits for the upstream content as well."""
    assert gate_waiting(GATE, ConnectorState("lightning/production"), sandbox(), NOW) is not None


@pytest.mark.parametrize(
    ("state", "required", "had_live"),
    [
        (production(), sandbox(since=NOW - timedelta(hours=1)), ()),  # soak just over
        (production(content=CONTENT), sandbox(), ()),  # already live here
        (production(), sandbox(), (CONTENT,)),  # had it before: upstream was rolled back
        (production(), ConnectorState("lightning/sandbox"), ()),  # nothing live upstream
        (production(), None, ()),
    ],
    ids=["soak-over", "already-live", "had-it-before", "nothing-upstream", "no-state"],
)
def test_nothing_is_held_back(
    state: ConnectorState, required: ConnectorState | None, had_live: tuple[str, ...]
) -> None:
    """No description when the gate holds nothing back (status shows gated: null)."""
    assert gate_waiting(GATE, state, required, NOW, had_live=had_live) is None


def test_a_gate_without_soak_holds_nothing_back() -> None:
    """`requires` without `soak`: content live upstream may follow at once."""
    assert (
        gate_waiting(Gate("lightning/sandbox", timedelta(0)), production(), sandbox(), NOW) is None
    )


def test_untimed_upstream_content_soaks_from_now() -> None:
    """Upstream content with no recorded time counts as live from now, as `decide` counts it."""
    described = gate_waiting(GATE, production(), sandbox(since=None), NOW)
    assert described == (
        "waiting for lightning/sandbox: bbbbbbbbbbbb live since an unknown time, "
        "soak until 2026-11-21T13:00:00+00:00"
    )


@pytest.mark.parametrize("minutes_live", [0, 30, 59, 60, 61, 120])
def test_status_and_decide_agree(minutes_live: int) -> None:
    """Whenever status says a connector waits, a cycle offered that content gates it, and the
    other way round.
    """
    required = sandbox(since=NOW - timedelta(minutes=minutes_live))
    waiting = gate_waiting(GATE, production(), required, NOW)
    action = decide(
        connector="lightning/production",
        built_sha256="n" * 64,
        built_content_sha256=CONTENT,
        state=production(),
        gate=GATE,
        required_state=required,
        authorized=True,
        api_usage=None,
        api_usage_ceiling=0.8,
        now=NOW,
    ).action
    assert (waiting is not None) == (action == Action.GATED)
    assert (waiting is not None) == (minutes_live < 60)


def test_gate_of_names_the_required_connector_of_the_same_system() -> None:
    """A connector's gate is its system's `requires` environment and its soak (0 if unset)."""
    connectors = {
        connector.environment: connector
        for connector in parse_config(CONFIG, Path("/etc/sfsync/sfsync.toml")).connectors
    }
    assert gate_of(connectors["sandbox"]) is None
    assert gate_of(connectors["test"]) == Gate("lightning/sandbox", timedelta(0))
    assert gate_of(connectors["production"]) == Gate("lightning/test", timedelta(hours=2))
