"""Fixtures for the session and OAuth unit tests: a stored connector and its session."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfsync.salesforce.session import ConnectorSession
from sfsync.tokens import MemoryTokenStore
from tests.unit.salesforce.sf_helpers import CONNECTOR, connector_session, stored


@pytest.fixture
def store() -> MemoryTokenStore:
    """A token store holding the test connector's record."""
    return MemoryTokenStore(records={CONNECTOR: stored()})


@pytest.fixture
def session(store: MemoryTokenStore, tmp_path: Path) -> ConnectorSession:
    """A session for the test connector over a real requests session (mocked by responses)."""
    return connector_session(store, tmp_path)
