"""One sync cycle, in-process against two emulated orgs with a real SQLite state store."""

from __future__ import annotations

from datetime import UTC, datetime

from sfsync.state.store import StateStore
from sfsync.sync.result import Result
from tests.integration.sync.sync_site import Site, served_text, site_runtime


def test_a_publish_reaches_both_orgs(site: Site) -> None:
    """A package in the drop folder is pushed to both connectors' orgs in one cycle."""
    site.publish("walkme-1.zip", "release 1")
    with site_runtime(site) as runtime:
        report = runtime.cycle()
    assert {result.connector: result.outcome for result in report.results} == {
        "lightning/one": Result.PUSHED,
        "lightning/two": Result.PUSHED,
    }
    assert [served_text(org) for org in site.orgs.values()] == ["release 1", "release 1"]


def test_an_unchanged_cycle_calls_no_api(site: Site) -> None:
    """A second cycle over the same package finds it unchanged without asking either org."""
    site.publish("walkme-1.zip", "release 1")
    with site_runtime(site) as runtime:
        runtime.cycle()
        before = site.requests_made()
        report = runtime.cycle()
    assert {result.outcome for result in report.results} == {Result.UNCHANGED}
    assert site.requests_made() == before


def test_a_failing_org_leaves_the_other_pushed(site: Site) -> None:
    """An org answering 503 fails its own connector only; the other one is pushed."""
    site.publish("walkme-1.zip", "release 1")
    site.orgs["lightning/two"].faults.fail_next(100, status=503, api="tooling")
    with site_runtime(site) as runtime:
        report = runtime.cycle()
    outcomes = {result.connector: result.outcome for result in report.results}
    assert outcomes == {"lightning/one": Result.PUSHED, "lightning/two": Result.FAILED}
    assert served_text(site.orgs["lightning/one"]) == "release 1"
    assert served_text(site.orgs["lightning/two"]) is None


def test_a_cycle_writes_its_token_grants_to_the_store(site: Site) -> None:
    """The token grants of a cycle's pushes are in the state store when the cycle returns, and
    the keyring entries, which changed only in time, were not written.
    """
    site.publish("walkme-1.zip", "release 1")
    started = datetime.now(UTC)
    written = len(site.tokens.writes)
    with site_runtime(site) as runtime:
        runtime.cycle()
        proven = runtime.deps.store.connectors(list(site.orgs))
    for name in site.orgs:
        at = proven[name].token_proven_at
        assert at is not None, name
        assert at >= started
    assert len(site.tokens.writes) == written


def test_a_grant_outside_a_cycle_is_written_when_the_runtime_closes(site: Site) -> None:
    """A token got outside any cycle (as rollback and verify get theirs) is proven in the state
    store once the runtime closes.
    """
    started = datetime.now(UTC)
    connector = site.loaded.connectors[0]
    with site_runtime(site) as runtime:
        assert runtime.deps.session_for(connector).access_token()
        state_dir = site.loaded.config.daemon.state_dir
    store = StateStore.open(state_dir)
    try:
        proven = store.connector(connector.name).token_proven_at
    finally:
        store.close()
    assert proven is not None
    assert proven >= started
