"""`sfsync run` end to end: a real subprocess under a fake systemd notify socket, a real drop
folder watched with inotify, real HTTPS to the emulator, real signals.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import signal
import sqlite3
import statistics
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfsync_emulator import Emulator
from tests.fixtures.daemon_support import Daemon, ready_daemon, start_daemon
from tests.fixtures.sync_support import RESOURCE, STATIC_RESOURCE, SyncSite, sync_site
from tests.fixtures.wait import wait_until

pytestmark = pytest.mark.slow

# Start-up reads the keyring (Argon2 for the cryptfile) and imports everything: on a loaded
# 2-core box that once took over 20 s.
# The notify socket is read by a thread of the test: a message the daemon has sent may not be
# in `notify.messages` yet when the test looks, so every check of one waits this long for it.
NOTIFY_SECONDS = 5


@pytest.fixture
def site(tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]) -> SyncSite:
    """Two authorized orgs; production gated on sandbox with no soak; tokens in the Secret
    Service (the burst and latency tests below run the daemon on the cryptfile keyring).
    """
    orgs = {"sandbox": emu.add_org(name="sandbox"), "production": emu.add_org(name="production")}
    site = sync_site(
        tmp_path, emu, orgs, {"production": 'requires = "sandbox"'}, secret_service_here
    )
    site.authorize("sandbox")
    site.authorize("production")
    return site


@pytest.fixture
def daemon(site: SyncSite) -> Iterator[Daemon]:
    """`sfsync run` started and READY."""
    with ready_daemon(site) as running:
        yield running


def served_version(site: SyncSite, environment: str) -> int | None:
    """Return the `version` in settings.json of what the org holds, or None."""
    resource = site.orgs[environment].static_resources.get(RESOURCE)
    if resource is None:
        return None
    with zipfile.ZipFile(io.BytesIO(resource.body)) as archive:
        return int(json.loads(archive.read("settings.json"))["version"])


def writes(site: SyncSite, environment: str) -> int:
    """Return how many Static Resource writes (create or PATCH) the org answered."""
    org = site.orgs[environment]
    return sum(
        1
        for entry in org.request_log
        if entry.api == "tooling" and entry.method in {"POST", "PATCH"} and entry.status < 300
    )


def refused_writes(site: SyncSite, environment: str) -> int:
    """Return how many Static Resource writes the org refused with a 400."""
    return sum(
        1
        for entry in site.orgs[environment].request_log
        if entry.api == "tooling" and entry.method in {"POST", "PATCH"} and entry.status == 400
    )


def rescan_every(site: SyncSite, period: str) -> None:
    """Set how often the daemon re-scans the site's drop folder (`rescan` of the dir source)."""
    config = site.site.config
    text = config.read_text()
    assert 'settle = "0s" }' in text
    config.write_text(text.replace('settle = "0s" }', f'settle = "0s", rescan = "{period}" }}'))


def test_ready_then_a_publish_goes_live_everywhere(daemon: Daemon, site: SyncSite) -> None:
    """READY=1 and a STATUS line come first; a package renamed into the drop folder goes live
    in both orgs within seconds; the metrics and the health check say so.
    """
    wait_until(lambda: daemon.notify.seen("STATUS"), NOTIFY_SECONDS, "STATUS=")
    started = time.monotonic()
    site.publish_sorted(1)
    wait_until(lambda: served_version(site, "production") == 1, 15, "production to serve v1")
    assert served_version(site, "sandbox") == 1
    assert time.monotonic() - started < 10
    wait_until(
        lambda: daemon.metric(
            "sfsync_sync_total", connector="lightning/production", result="pushed"
        ),
        5,
        "the pushed counter",
    )
    assert daemon.metric("sfsync_connector_authorized", connector="lightning/sandbox") == 1.0
    assert daemon.metric("sfsync_last_success_timestamp_seconds", connector="lightning/sandbox")
    assert (
        daemon.metric("sfsync_api_requests_total", connector="lightning/sandbox", api="tooling")
        or 0
    ) >= 1
    assert daemon.metric("sfsync_package_bytes", connector="lightning/sandbox")
    assert daemon.metric("sfsync_source_checks_total", system="lightning", result="new")
    status, body = daemon.get("/healthz")
    assert status == 200, body
    assert json.loads(body)["status"] == "ok"
    assert daemon.get("/nothing-here")[0] == 404
    # Every log line is JSON, and the push lines name their connector.
    lines = daemon.log_lines()
    assert not [line for line in lines if line.get("unparsed")], lines[:5]
    pushed = [line for line in lines if line.get("result") == "pushed"]
    assert {line["connector"] for line in pushed} == {"lightning/sandbox", "lightning/production"}
    # ... at info, with their system and the package file they came from (SPEC section 10).
    assert {(line["level"], line["system"]) for line in pushed} == {("info", "lightning")}
    assert all(line["package"].endswith(".zip") for line in pushed), pushed
    assert daemon.stop() == 0
    wait_until(lambda: daemon.notify.seen("STOPPING", "1"), NOTIFY_SECONDS, "STOPPING=1")


def test_watchdog_pings_while_the_scheduler_runs(daemon: Daemon) -> None:
    """With WATCHDOG_USEC=3s, WATCHDOG=1 comes at least every second or so."""
    first = len(daemon.notify.seen("WATCHDOG", "1"))
    time.sleep(3.5)
    # A second more for the reader thread to catch up with what was sent by now.
    wait_until(lambda: len(daemon.notify.seen("WATCHDOG", "1")) - first >= 3, 1, "three WATCHDOG=1")


@pytest.mark.alone
def test_a_burst_of_ten_publishes_yields_at_most_two_pushes_of_the_newest(
    tmp_path: Path, emu: Emulator
) -> None:
    """Ten packages published in a burst: the newest goes live, with one or two pushes."""
    orgs = {"sandbox": emu.add_org(name="sandbox")}
    site = sync_site(tmp_path, emu, orgs, {})
    config = site.site.config
    config.write_text(config.read_text().replace('settle = "0s"', 'settle = "1s"'))
    site.authorize("sandbox")
    running = start_daemon(site)
    try:
        running.wait_ready()
        for version in range(1, 11):
            site.publish_sorted(version)
        wait_until(lambda: served_version(site, "sandbox") == 10, 20, "v10 live")
        time.sleep(2.5)  # anything still scheduled would push by now
        assert served_version(site, "sandbox") == 10
        assert 1 <= writes(site, "sandbox") <= 2, writes(site, "sandbox")
    finally:
        running.kill()


def test_unchanged_content_costs_no_api_calls_across_rescans(
    daemon: Daemon, site: SyncSite
) -> None:
    """Once live, nothing new: the daemon makes no further request while it waits."""
    site.publish_sorted(1)
    wait_until(lambda: served_version(site, "production") == 1, 15, "v1 live")
    time.sleep(0.5)
    before = site.api_calls("sandbox") + site.api_calls("production")
    # Touching an unrelated dot-file and a .part must not cost anything either.
    (site.drop / ".DS_Store").write_bytes(b"x")
    (site.drop / "next.zip.part").write_bytes(b"partial")
    time.sleep(2)
    assert site.api_calls("sandbox") + site.api_calls("production") == before


def test_sighup_with_a_broken_config_keeps_running(daemon: Daemon, site: SyncSite) -> None:
    """A broken config on SIGHUP is logged and refused; the daemon keeps pushing; a good one
    is then taken.
    """
    config = site.site.config
    good = config.read_text()
    config.write_text(good + "\n[systems.lightning\n")  # TOML syntax error
    daemon.signal(signal.SIGHUP)
    wait_until(
        lambda: [line for line in daemon.log_lines() if "reload refused" in line.get("event", "")],
        10,
        "the refusal in the log",
    )
    wait_until(lambda: daemon.notify.seen("RELOADING", "1"), NOTIFY_SECONDS, "RELOADING=1")
    assert daemon.process.poll() is None
    refusal = next(line for line in daemon.log_lines() if "reload refused" in line["event"])
    assert str(config) in refusal["error"]
    site.publish_sorted(1)
    wait_until(lambda: served_version(site, "production") == 1, 15, "v1 live after the refusal")
    config.write_text(good.replace("concurrency = 4", "concurrency = 2"))
    daemon.signal(signal.SIGHUP)
    wait_until(
        lambda: [line for line in daemon.log_lines() if line.get("event") == "reloaded"],
        20,
        "the reload",
    )
    assert daemon.get("/healthz")[0] == 200
    # A reload says "reloaded", not that the daemon started again.
    assert [line.get("event") for line in daemon.log_lines()].count("daemon started") == 1
    site.publish_sorted(2)
    wait_until(lambda: served_version(site, "production") == 2, 15, "v2 live after the reload")
    assert daemon.stop() == 0


def test_sigterm_during_a_slow_push_exits_0_with_consistent_state(
    daemon: Daemon, site: SyncSite
) -> None:
    """SIGTERM while a PATCH takes 2 s: the push finishes within the grace, exit 0, and the
    state store agrees with the org.
    """
    site.publish_sorted(1)
    wait_until(lambda: served_version(site, "production") == 1, 15, "v1 live")
    for org in site.orgs.values():
        org.faults.latency(2.0, api="tooling")
    count_before = site.orgs["sandbox"].count(api="tooling", method="PATCH")
    site.publish_sorted(2)
    wait_until(
        lambda: (
            site.orgs["sandbox"].count(api="tooling", method="PATCH") > count_before
            or any(entry.method == "PATCH" for entry in site.orgs["sandbox"].request_log[-1:])
        ),
        15,
        "the PATCH to start",
    )
    time.sleep(0.3)
    stopped_at = time.monotonic()
    assert daemon.stop(timeout=45) == 0
    assert time.monotonic() - stopped_at < 35
    database = sqlite3.connect(site.site.state_dir / "state.sqlite3")
    outcomes = [row[0] for row in database.execute("SELECT outcome FROM pushes ORDER BY id")]
    assert "started" not in outcomes, outcomes
    (live,) = database.execute(
        "SELECT live_sha256 FROM connectors WHERE connector = 'lightning/sandbox'"
    ).fetchone()
    body = site.orgs["sandbox"].static_resources[RESOURCE].body
    assert hashlib.sha256(body).hexdigest() == live


@pytest.mark.alone
def test_publish_to_live_latency(tmp_path: Path, emu: Emulator) -> None:
    """Measure publish-to-live (rename into the folder until the org holds it) over 10
    publishes of a small package with settle 0s; printed for the note, bounded loosely.
    """
    orgs = {"sandbox": emu.add_org(name="sandbox")}
    site = sync_site(tmp_path, emu, orgs, {})
    site.authorize("sandbox")
    running = start_daemon(site)
    latencies = []
    try:
        running.wait_ready()
        for version in range(1, 11):
            started = time.monotonic()
            site.publish_sorted(version)

            def serves(v: int = version) -> bool:
                return served_version(site, "sandbox") == v

            wait_until(serves, 15, f"v{version}")
            latencies.append(time.monotonic() - started)
    finally:
        running.kill()
    median = statistics.median(latencies)
    print(f"publish-to-live: median {median:.3f}s, max {max(latencies):.3f}s over 10")  # noqa: T201
    assert median < 5, latencies


def test_a_connector_refused_with_a_400_backs_off_while_the_other_keeps_pushing(
    tmp_path: Path, emu: Emulator
) -> None:
    """uat's org refuses every write with a 400. With a re-scan every second, uat is tried
    again only as its backoff allows (5 s doubling), not at each re-scan; sandbox takes each
    publish at once; a new publish is tried on uat at once too; once the org accepts writes
    again, the next publish goes live on both.
    """
    orgs = {"sandbox": emu.add_org(name="sandbox"), "uat": emu.add_org(name="uat")}
    site = sync_site(tmp_path, emu, orgs, {})
    rescan_every(site, "1s")
    site.authorize("sandbox")
    site.authorize("uat")
    orgs["uat"].faults.fail_next(10_000, status=400, api="tooling", path_prefix=STATIC_RESOURCE)
    running = start_daemon(site)

    def rescans() -> float:
        return running.metric("sfsync_source_checks_total", system="lightning", result="same") or 0

    try:
        running.wait_ready()
        site.publish_sorted(1)
        wait_until(lambda: served_version(site, "sandbox") == 1, 15, "sandbox to serve v1")
        wait_until(lambda: refused_writes(site, "uat"), 15, "uat's first refusal")
        rescans_before = rescans()
        # The first retry comes 2.5-5 s after the first refusal, the second 5-10 s after that,
        # the third 10-20 s later: at most three tries in these 10 s, against ten re-scans.
        time.sleep(10)
        assert rescans() - rescans_before >= 6, "the re-scan did not run every second"
        assert 2 <= refused_writes(site, "uat") <= 3, refused_writes(site, "uat")
        retries = [
            line for line in running.log_lines() if line.get("event") == "connector retry scheduled"
        ]
        assert {line["connector"] for line in retries} == {"lightning/uat"}, retries
        assert [line["failures"] for line in retries[:2]] == [1, 2], retries
        # A failed push and its retry are loud: error, then warning (SPEC section 10).
        assert {line["level"] for line in retries} == {"warning"}, retries
        failed = [
            line
            for line in running.log_lines()
            if line.get("event") == "connector result" and line.get("result") == "failed"
        ]
        assert failed, "no failed connector result logged"
        assert {(line["level"], line["connector"]) for line in failed} == {
            ("error", "lightning/uat")
        }, failed
        refused = refused_writes(site, "uat")
        site.publish_sorted(2)
        wait_until(lambda: served_version(site, "sandbox") == 2, 15, "sandbox to serve v2")
        wait_until(lambda: refused_writes(site, "uat") > refused, 5, "uat tried at once with v2")
        assert served_version(site, "uat") is None
        orgs["uat"].faults.clear()
        site.publish_sorted(3)
        wait_until(lambda: served_version(site, "uat") == 3, 15, "uat to serve v3")
        assert served_version(site, "sandbox") == 3
        wait_until(lambda: running.get("/healthz")[0] == 200, 10, "healthz 200")
        assert running.stop() == 0
    finally:
        running.kill()


def inotify_watched_inodes(pid: int) -> set[int]:
    """Return the inodes a process watches through inotify (its fdinfo lists one watch a line)."""
    inodes = set()
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        with contextlib.suppress(OSError):  # an fd closed since the listing
            for line in info.read_text().splitlines():
                if line.startswith("inotify wd:"):
                    field = next(part for part in line.split() if part.startswith("ino:"))
                    inodes.add(int(field.removeprefix("ino:"), 16))
    return inodes


def test_the_rescan_finds_a_publish_the_watch_could_not_see(tmp_path: Path, emu: Emulator) -> None:
    """The drop folder does not exist when the daemon starts, so inotify cannot watch it: the
    daemon starts anyway and says so; once the folder exists, a package published there goes
    live through the periodic re-scan, and the re-scan puts the folder under inotify.
    """
    orgs = {"sandbox": emu.add_org(name="sandbox")}
    site = sync_site(tmp_path, emu, orgs, {})
    rescan_every(site, "1s")
    site.authorize("sandbox")
    site.drop.rmdir()
    running = start_daemon(site)
    try:
        running.wait_ready()
        wait_until(
            lambda: [
                line
                for line in running.log_lines()
                if line.get("event", "").startswith("cannot watch the source folder")
            ],
            10,
            "the warning that the folder cannot be watched",
        )
        site.drop.mkdir()
        site.publish_sorted(1)
        wait_until(lambda: served_version(site, "sandbox") == 1, 15, "v1 live through the re-scan")
        assert running.metric("sfsync_source_checks_total", system="lightning", result="new")
        wait_until(
            lambda: [
                line
                for line in running.log_lines()
                if line.get("event") == "watching the source folder"
            ],
            10,
            "the log line that the folder is watched now",
        )
        assert site.drop.stat().st_ino in inotify_watched_inodes(running.process.pid)
        site.publish_sorted(2)
        wait_until(lambda: served_version(site, "sandbox") == 2, 15, "v2 live")
        assert running.stop() == 0
    finally:
        running.kill()


def test_a_refused_package_a_down_org_and_a_revoked_token_are_loud_in_one_run(
    tmp_path: Path, emu: Emulator
) -> None:
    """One daemon run: a healthy org, an org answering 503, an org whose refresh token was
    revoked, then a package that is refused. Each failure is an `error` line naming its system
    and package, and each moves the sfsync_sync_total series the alerts watch
    (SfsyncConnectorFailing, SfsyncPushNeedsAuthorization, SfsyncPackageRefused).
    """
    orgs = {
        "sandbox": emu.add_org(name="sandbox"),
        "uat": emu.add_org(name="uat"),
        "qa": emu.add_org(name="qa"),
    }
    site = sync_site(tmp_path, emu, orgs, {})
    for environment in orgs:
        site.authorize(environment)
    orgs["uat"].faults.fail_next(10_000, status=503, api="tooling")
    orgs["qa"].faults.revoke_refresh_tokens()
    orgs["qa"].faults.expire_sessions()
    running = start_daemon(site)

    def count(connector: str, result: str) -> float:
        return running.metric("sfsync_sync_total", connector=connector, result=result) or 0

    try:
        running.wait_ready()
        site.publish_sorted(1)
        wait_until(lambda: served_version(site, "sandbox") == 1, 20, "sandbox to serve v1")
        wait_until(lambda: count("lightning/uat", "failed") >= 1, 30, "uat's failure")
        wait_until(lambda: count("lightning/qa", "needs_authorization") >= 1, 30, "qa's refusal")
        bad = site.drop / "walkme-9.zip"
        bad.write_bytes(b"PK\x03\x04 not really a zip")
        wait_until(lambda: count("lightning/sandbox", "invalid") >= 1, 30, "the refusal")
        results = [line for line in running.log_lines() if line.get("event") == "connector result"]
        by_outcome = {(line["connector"], line["result"]): line for line in results}
        for key in (
            ("lightning/uat", "failed"),
            ("lightning/qa", "needs_authorization"),
            ("lightning/sandbox", "invalid"),
        ):
            line = by_outcome[key]
            assert line["level"] == "error", line
            assert line["system"] == "lightning", line
            assert line["package"], line
        assert by_outcome[("lightning/sandbox", "invalid")]["package"].endswith("walkme-9.zip")
        assert by_outcome[("lightning/sandbox", "pushed")]["level"] == "info"
    finally:
        running.kill()
