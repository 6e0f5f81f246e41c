"""API usage has one owner: the pusher's calls are kept across restarts, every other answer
the daemon sees updates it in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sfsync.salesforce.limits import ApiUsage
from sfsync.state.store import StateStore
from sfsync.sync.usage import UsageBook

CONNECTOR = "lightning/sandbox"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    """A real state store in a temporary folder."""
    opened = StateStore.open(tmp_path / "state")
    yield opened
    opened.close()


def answer(limit_info: str | None) -> requests.Response:
    """Return an org's answer carrying the given Sforce-Limit-Info header (None: none)."""
    response = requests.Response()
    response.status_code = 200
    if limit_info is not None:
        response.headers["Sforce-Limit-Info"] = limit_info
    return response


def test_a_push_call_is_kept_for_the_next_process(store: StateStore) -> None:
    """Usage a push reports is read back by a book opened later on the same store."""
    UsageBook(store, [CONNECTOR], epoch=lambda: 100.0).record(CONNECTOR, ApiUsage(18, 5000))
    later = UsageBook(store, [CONNECTOR], epoch=lambda: 200.0)
    assert later.get(CONNECTOR) == (ApiUsage(18, 5000), 100.0)


def test_any_answer_updates_the_usage_in_memory_only(store: StateStore) -> None:
    """An answer's header updates the book (when it says something) but not the store."""
    book = UsageBook(store, [CONNECTOR], epoch=lambda: 300.0)
    book.observe(CONNECTOR, answer("api-usage=42/5000; per-app-api-usage=1/100(appName=x)"))
    book.observe(CONNECTOR, answer(None))
    assert book.get(CONNECTOR) == (ApiUsage(42, 5000), 300.0)
    assert UsageBook(store, [CONNECTOR]).get(CONNECTOR) is None


def test_only_the_named_connectors_usage_is_read(store: StateStore) -> None:
    """A book opened for some connectors holds their kept usage only, not other connectors'."""
    store.record_api_usage(CONNECTOR, ApiUsage(18, 5000), 100.0)
    store.record_api_usage("lightning/production", ApiUsage(40, 5000), 100.0)
    store.set_resource_id("lightning/uat", "081000000000001AAA")
    book = UsageBook(store, [CONNECTOR, "lightning/uat"], epoch=lambda: 200.0)
    assert book.get(CONNECTOR) == (ApiUsage(18, 5000), 100.0)
    assert book.get("lightning/production") is None
    assert book.get("lightning/uat") is None
