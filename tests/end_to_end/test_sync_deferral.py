"""API usage through the real CLI: `[salesforce] api_usage_ceiling` defers pushes while an org's
`Sforce-Limit-Info: api-usage=USED/MAX` is above it, and a spent budget (REQUEST_LIMIT_EXCEEDED)
fails that connector after bounded retries while the others push.

sfsync learns an org's usage from the answers to its own calls and keeps it in memory for the
life of the process, and a cycle decides each connector before its first call. So a single
`sfsync sync` can defer only a connector it decides twice: one with a Metadata deploy left
pending, whose settling answer reports the usage before the new build is decided.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from sfsync.config.schema import SalesforceSettings
from sfsync.salesforce.retry import RetryPolicy
from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.sync_support import (
    DEPLOY,
    HeldRequests,
    SyncSite,
    sync_killed_while_held,
    sync_site,
)

pytestmark = pytest.mark.slow

CEILING = SalesforceSettings().api_usage_ceiling


def result_line(out: str, connector: str) -> str:
    """Return the summary line of one connector from `sfsync sync`'s output."""
    return next(line for line in out.splitlines() if line.startswith(f"{connector} "))


def push_outcomes(site: SyncSite, connector: str) -> list[tuple[str, str | None]]:
    """Return the connector's push history, oldest first, as (outcome, error)."""
    with closing(sqlite3.connect(site.site.state_dir / "state.sqlite3")) as database:
        rows = database.execute(
            "SELECT outcome, error FROM pushes WHERE connector = ? ORDER BY id", (connector,)
        )
        return [(outcome, error) for outcome, error in rows]


def use_88_percent(org: OrgHandle) -> None:
    """Make the org's next API call answer api-usage=15001/17000 (88%): others spent it."""
    org.faults.exhaust_api_budget()  # api_used = api_budget = 15000
    org.api_budget = 17_000


def test_spent_budget_fails_that_connector_after_bounded_retries(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """REQUEST_LIMIT_EXCEEDED is retried a bounded number of times, then that connector fails
    with Salesforce's own message (exit 1), while the other connector pushes.
    """
    orgs = {"sandbox": emu.add_org(name="sandbox"), "test": emu.add_org(name="test")}
    site = sync_site(tmp_path, emu, orgs, {}, secret_service_here)
    site.authorize("sandbox")
    site.authorize("test")
    orgs["test"].faults.exhaust_api_budget()
    site.publish(1)
    code, out, err = site.run("sync")
    assert code == 1, out + err
    line = result_line(out, "lightning/test")
    assert " failed " in line
    assert "HTTP 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded." in line
    assert " pushed " in result_line(out, "lightning/sandbox")
    assert site.live_sha256("sandbox") is not None
    assert site.live_sha256("test") is None
    refused = [entry for entry in orgs["test"].request_log if entry.status == 403]
    assert len(refused) == RetryPolicy().attempts, "retries must be bounded"
    assert all(entry.method == "GET" for entry in refused), "nothing may be written"
    [(outcome, error)] = push_outcomes(site, "lightning/test")
    assert outcome == "failed"
    assert error is not None
    assert "REQUEST_LIMIT_EXCEEDED" in error


def test_usage_learned_in_a_run_defers_the_push_in_that_run(
    tmp_path: Path,
    emu: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    secret_service_here: dict[str, str],
) -> None:
    """Usage above the ceiling, learned from the answer that settles a pending Metadata deploy,
    defers the connector's newer build in the same run: no deploy is started, and the run
    succeeds saying why.
    """
    held = HeldRequests.watch(emu, monkeypatch)
    org = emu.add_org(name="sandbox", deploy_seconds=3600)
    site = sync_site(
        tmp_path, emu, {"sandbox": org}, {"sandbox": 'api = "metadata"'}, secret_service_here
    )
    site.authorize("sandbox")
    site.publish(1)
    # An earlier run dies polling its deploy of v1, which goes on running: its id is kept.
    org.faults.hang_next(1, seconds=600, path_prefix=f"{DEPLOY}/")
    sync_killed_while_held(site, held)
    org.faults.clear()
    pending = push_outcomes(site, "lightning/sandbox")
    assert pending == [("started", None)]
    org.deploy_seconds = 0.2  # v1's deploy has finished by now
    use_88_percent(org)
    site.publish(2)

    code, out, err = site.run("sync")
    assert code == 0, out + err
    line = result_line(out, "lightning/sandbox")
    assert " deferred " in line, out
    assert f"API usage 88% is above the ceiling of {CEILING:.0%}" in line
    assert org.count(api="metadata", method="POST") == 1, "only v1's deploy was ever started"
    assert push_outcomes(site, "lightning/sandbox") == [("pushed", None)]  # v1, settled
    assert site.live_sha256("sandbox") is not None


def test_a_new_process_defers_while_the_last_usage_seen_is_above_the_ceiling(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """Usage above the ceiling seen by one `sfsync sync` defers the next publish in the next
    `sfsync sync` (as it would in the daemon's next cycle).
    """
    org = emu.add_org(name="sandbox")
    site = sync_site(tmp_path, emu, {"sandbox": org}, {}, secret_service_here)
    site.authorize("sandbox")
    use_88_percent(org)
    site.publish(1)
    code, out, err = site.run("sync")  # usage unknown until its first answer: it pushes
    assert code == 0, out + err
    assert " pushed " in out
    site.publish(2)
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert " deferred " in out, out
    assert org.count(method="PATCH") == 0
