"""`sfsync sync` end to end: the real CLI pushing to emulated orgs over HTTPS, with tokens in a
real cryptfile keyring; API calls counted on the emulator's request log.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import threading
import time
import zipfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
import requests

import sfsync_emulator.deploys
from sfsync_emulator import Emulator
from sfsync_emulator.deploy_zip import DeployPlan, Problem, read_deploy_zip
from tests.fixtures.sync_support import DEPLOY, RESOURCE, SyncSite, package_bytes, sync_site

pytestmark = pytest.mark.slow


@pytest.fixture
def two_orgs(tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]) -> SyncSite:
    """A site with sandbox and production (gated on sandbox, no soak), both authorized."""
    orgs = {"sandbox": emu.add_org(name="sandbox"), "production": emu.add_org(name="production")}
    site = sync_site(
        tmp_path, emu, orgs, {"production": 'requires = "sandbox"'}, secret_service_here
    )
    site.authorize("sandbox")
    site.authorize("production")
    return site


def kept_build(site: SyncSite, environment: str, sha256: str) -> bytes:
    path = site.site.state_dir / "packages" / "lightning" / environment / f"{sha256}.zip"
    return path.read_bytes()


def test_first_sync_pushes_everywhere_and_second_costs_nothing(two_orgs: SyncSite) -> None:
    """A publish goes live in both orgs (gate opens in the same cycle); an unchanged second
    sync makes no request at all.
    """
    two_orgs.publish(1)
    code, out, err = two_orgs.run("sync")
    assert code == 0, out + err
    assert out.count(" pushed ") == 2, out
    for environment in ("sandbox", "production"):
        live = two_orgs.live_sha256(environment)
        assert live is not None
        assert kept_build(two_orgs, environment, live)  # the pushed bytes are kept for rollback
    # First push with no known Id: one query and one create per org.
    assert two_orgs.api_calls("sandbox") == 2
    before = {name: len(org.request_log) for name, org in two_orgs.orgs.items()}
    code, out, _ = two_orgs.run("sync")
    assert code == 0
    assert out.count(" unchanged ") == 2, out
    after = {name: len(org.request_log) for name, org in two_orgs.orgs.items()}
    assert after == before, "an unchanged package must cost zero requests, OAuth included"


def test_changed_package_costs_one_write_per_connector(two_orgs: SyncSite) -> None:
    """Once the resource Id is known, a new publish costs exactly one PATCH per org."""
    two_orgs.publish(1)
    assert two_orgs.run("sync")[0] == 0
    calls = {name: two_orgs.api_calls(name) for name in two_orgs.orgs}
    two_orgs.publish(2)
    code, out, err = two_orgs.run("sync")
    assert code == 0, out + err
    for name, org in two_orgs.orgs.items():
        assert two_orgs.api_calls(name) - calls[name] == 1
        assert org.count(method="PATCH") == 1
        assert len(org.static_resources[RESOURCE].history) == 2


def test_dry_run_prints_the_plan_and_changes_nothing(two_orgs: SyncSite) -> None:
    """--dry-run builds and says what would be pushed where, with no request and no state."""
    two_orgs.publish(1)
    code, out, _ = two_orgs.run("sync", "--dry-run")
    assert code == 0
    assert "lightning/sandbox" in out
    assert "would push" in out
    assert "waiting for this content to go live on lightning/sandbox" in out
    assert all(len(org.request_log) == 0 for org in two_orgs.orgs.values())
    assert two_orgs.live_sha256("sandbox") is None


def test_unauthorized_connector_exits_3_while_others_push(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """A connector with no token is reported needing authorization (exit 3); the other pushes."""
    orgs = {"sandbox": emu.add_org(name="sandbox"), "test": emu.add_org(name="test")}
    site = sync_site(tmp_path, emu, orgs, {}, secret_service_here)
    site.authorize("sandbox")
    site.publish(1)
    code, out, _ = site.run("sync")
    assert code == 3
    assert "lightning/test" in out
    assert "needs_authorization" in out
    assert site.live_sha256("sandbox") is not None
    assert site.live_sha256("test") is None


def test_revoked_refresh_token_exits_3_and_marks_the_connector(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """A refresh answered invalid_grant marks that connector; the other org still gets content."""
    orgs = {"sandbox": emu.add_org(name="sandbox"), "test": emu.add_org(name="test")}
    site = sync_site(tmp_path, emu, orgs, {}, secret_service_here)
    site.authorize("sandbox")
    site.authorize("test")
    orgs["test"].faults.revoke_refresh_tokens()
    site.publish(1)
    code, out, _ = site.run("sync")
    assert code == 3, out
    assert site.live_sha256("sandbox") is not None
    assert site.live_sha256("test") is None
    row = sqlite3.connect(site.site.state_dir / "state.sqlite3").execute(
        "SELECT needs_authorization FROM connectors WHERE connector = 'lightning/test'"
    )
    assert row.fetchone() == (1,)


def test_transient_faults_are_retried(two_orgs: SyncSite) -> None:
    """503s and a connection reset are retried until the push lands."""
    sandbox = two_orgs.orgs["sandbox"]
    sandbox.faults.fail_next(2, status=503, api="tooling")
    sandbox.faults.reset_next(1, api="tooling")
    two_orgs.publish(1)
    code, out, err = two_orgs.run("sync")
    assert code == 0, out + err
    assert two_orgs.live_sha256("sandbox") is not None
    statuses = [entry.status for entry in sandbox.request_log if entry.api == "tooling"]
    assert statuses[:3] == [503, 503, 0], statuses  # 0: the reset connection


def test_request_limit_exceeded_is_retried(two_orgs: SyncSite) -> None:
    """REQUEST_LIMIT_EXCEEDED is retried with backoff; the push lands once the budget allows."""
    production = two_orgs.orgs["production"]
    production.faults.exhaust_api_budget()

    def restore_budget_after_first_refusal() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(entry.status == 403 for entry in production.request_log):
                production.api_budget = production.api_used + 1000
                return
            time.sleep(0.02)

    helper = threading.Thread(target=restore_budget_after_first_refusal)
    helper.start()
    two_orgs.publish(1)
    code, out, err = two_orgs.run("sync")
    helper.join()
    assert code == 0, out + err
    assert two_orgs.live_sha256("production") is not None
    assert any(entry.status == 403 for entry in production.request_log)


def test_client_errors_are_not_retried_and_reported_verbatim(two_orgs: SyncSite) -> None:
    """A 400 is not retried; the push fails with Salesforce's own message and exit 1."""
    sandbox = two_orgs.orgs["sandbox"]
    sandbox.faults.fail_next(1, status=400, api="tooling", path_prefix="/services/data")
    two_orgs.publish(1)
    code, out, _ = two_orgs.run("sync", "--connector", "lightning/sandbox")
    assert code == 1
    assert "failed" in out
    assert "HTTP 400" in out
    # The errorCode and message of Salesforce's answer, as the org sent them.
    line = next(line for line in out.splitlines() if line.startswith("lightning/sandbox"))
    assert "UNKNOWN_EXCEPTION: An unexpected error occurred. Please include this ErrorId" in line
    assert sandbox.count(api="tooling") == 1, "a 4xx must not be retried"


def test_an_unpacked_tree_is_published_as_its_zip_would_be(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """A folder dropped in the drop folder is a package: it goes live byte-equal to what
    `sfsync build` makes of it, and a newer ZIP beside it wins the next sync.
    """
    orgs = {"sandbox": emu.add_org(name="sandbox")}
    site = sync_site(tmp_path, emu, orgs, {}, secret_service_here)
    site.authorize("sandbox")
    zipped = tmp_path / "walkme-1.zip"
    zipped.write_bytes(package_bytes(1))
    part = site.drop / "walkme-tree.part"
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(part)
    part.rename(site.drop / "walkme-tree")  # published as publishers do: renamed into place
    code, out, err = site.run("sync")
    assert code == 0, out + err
    expected = tmp_path / "expected.zip"
    tree = site.drop / "walkme-tree"
    code, out, err = site.run(
        "build", "--connector", "lightning/sandbox", "--package", str(tree), "-o", str(expected)
    )
    assert code == 0, out + err
    assert site.live_sha256("sandbox") == hashlib.sha256(expected.read_bytes()).hexdigest()
    site.publish(2)
    assert site.run("sync")[0] == 0
    served = orgs["sandbox"].static_resources[RESOURCE].body
    with zipfile.ZipFile(io.BytesIO(served)) as archive:
        assert json.loads(archive.read("settings.json"))["version"] == 2


def test_verify_adds_exactly_one_read(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """With verify = true, a changed package costs one write and one read of the Body."""
    orgs = {"sandbox": emu.add_org(name="sandbox")}
    site = sync_site(tmp_path, emu, orgs, {"sandbox": "verify = true"}, secret_service_here)
    site.authorize("sandbox")
    site.publish(1)
    assert site.run("sync")[0] == 0
    calls = site.api_calls("sandbox")
    site.publish(2)
    assert site.run("sync")[0] == 0
    assert site.api_calls("sandbox") - calls == 2
    assert orgs["sandbox"].count(method="GET", path_prefix="/services/data") >= 1
    code, out, _ = site.run("verify")
    assert code == 0
    assert "verified" in out


def test_metadata_deploy_path(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """api = "metadata" deploys through the REST deploy resource and the content goes live."""
    orgs = {"sandbox": emu.add_org(name="sandbox", deploy_seconds=0.2)}
    site = sync_site(tmp_path, emu, orgs, {"sandbox": 'api = "metadata"'}, secret_service_here)
    site.authorize("sandbox")
    data_sha = None
    site.publish(1)
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert "pushed" in out
    org = orgs["sandbox"]
    assert org.count(api="metadata", method="POST") == 1
    assert org.count(api="tooling") == 0
    data_sha = site.live_sha256("sandbox")
    assert data_sha is not None
    assert kept_build(site, "sandbox", data_sha)


def test_metadata_deploy_request_500_is_retried(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """A 500 on the deploy request is transient: retried once, and that deploy goes live."""
    orgs = {"sandbox": emu.add_org(name="sandbox", deploy_seconds=0.1)}
    site = sync_site(tmp_path, emu, orgs, {"sandbox": 'api = "metadata"'}, secret_service_here)
    site.authorize("sandbox")
    site.publish(1)
    orgs["sandbox"].faults.fail_next(1, status=500, api="metadata", path_prefix="/services/data")
    code, out, err = site.run("sync")
    assert code == 0, out + err
    posts = [
        e.status for e in orgs["sandbox"].request_log if e.method == "POST" and e.api == "metadata"
    ]
    assert posts == [500, 201]
    assert site.live_sha256("sandbox") is not None


def test_metadata_deploy_poll_fault_is_retried(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """A 503 on a deploy status poll is retried within the push: the deploy is followed to its
    end, the push is recorded as pushed and nothing is deployed twice.
    """
    orgs = {"sandbox": emu.add_org(name="sandbox", deploy_seconds=0.3)}
    site = sync_site(tmp_path, emu, orgs, {"sandbox": 'api = "metadata"'}, secret_service_here)
    site.authorize("sandbox")
    site.publish(1)
    org = orgs["sandbox"]
    org.faults.fail_next(1, status=503, api="metadata", path_prefix=f"{DEPLOY}/")
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert "pushed" in out, out
    assert org.count(api="metadata", method="POST") == 1
    log = org.request_log
    polls = [entry.status for entry in log if entry.method == "GET" and entry.api == "metadata"]
    assert polls[0] == 503, polls
    assert polls[-1] == 200, polls
    assert site.live_sha256("sandbox") is not None
    assert site.run("sync")[0] == 0
    assert org.count(api="metadata", method="POST") == 1


def test_metadata_component_failure_is_reported(
    tmp_path: Path,
    emu: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    secret_service_here: dict[str, str],
) -> None:
    """A deploy that fails reports Salesforce's component problem verbatim (output and
    `last_error`), exits 1, and what was live stays live.
    """
    orgs = {"sandbox": emu.add_org(name="sandbox", deploy_seconds=0.1)}
    site = sync_site(tmp_path, emu, orgs, {"sandbox": 'api = "metadata"'}, secret_service_here)
    site.authorize("sandbox")
    site.publish(1)
    assert site.run("sync")[0] == 0
    v1 = site.live_sha256("sandbox")
    problem = "static resource cannot exceed 5MB"

    def failing_plan(data: bytes, *, single_package: bool) -> DeployPlan:
        plan = read_deploy_zip(data, single_package=single_package)
        name = f"staticresources/{RESOURCE}.resource"
        return replace(plan, problems=(*plan.problems, Problem(name, RESOURCE, problem)))

    monkeypatch.setattr(sfsync_emulator.deploys, "read_deploy_zip", failing_plan)
    site.publish(2)
    code, out, err = site.run("sync")
    assert code == 1, out + err
    line = next(line for line in out.splitlines() if line.startswith("lightning/sandbox"))
    assert f"StaticResource {RESOURCE}: {problem}" in line, out
    assert site.live_sha256("sandbox") == v1
    code, out, err = site.run("status", "--json")
    assert code == 0, out + err
    (row,) = json.loads(out)["connectors"]
    assert problem in row["last_error"], row


def test_gate_holds_production_until_soak(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """With soak = 1h, production is gated (exit 0) while sandbox goes live."""
    orgs = {"sandbox": emu.add_org(name="sandbox"), "production": emu.add_org(name="production")}
    gate = 'requires = "sandbox"\nsoak = "1h"'
    site = sync_site(tmp_path, emu, orgs, {"production": gate}, secret_service_here)
    site.authorize("sandbox")
    site.authorize("production")
    site.publish(1)
    code, out, _ = site.run("sync")
    assert code == 0
    assert "gated" in out
    assert "soaking on lightning/sandbox" in out
    assert site.live_sha256("production") is None
    assert len(orgs["production"].request_log) == 0


def test_rollback_pauses_and_resume_lifts(two_orgs: SyncSite) -> None:
    """rollback re-pushes the previous build and pauses; sync then skips; resume lets v2 back."""
    two_orgs.publish(1)
    assert two_orgs.run("sync")[0] == 0
    first = two_orgs.live_sha256("sandbox")
    two_orgs.publish(2)
    assert two_orgs.run("sync")[0] == 0
    second = two_orgs.live_sha256("sandbox")
    assert first != second
    code, out, err = two_orgs.run("rollback", "--connector", "lightning/sandbox")
    assert code == 0, out + err
    assert two_orgs.live_sha256("sandbox") == first
    assert "paused" in out
    code, out, _ = two_orgs.run("sync", "--connector", "lightning/sandbox")
    assert code == 0
    assert "paused" in out
    assert two_orgs.live_sha256("sandbox") == first
    assert two_orgs.run("resume", "--connector", "lightning/sandbox")[0] == 0
    assert two_orgs.run("sync", "--connector", "lightning/sandbox")[0] == 0
    assert two_orgs.live_sha256("sandbox") == second


def test_rollback_to_a_prefix(two_orgs: SyncSite) -> None:
    """rollback --to takes a kept build by hash prefix; an unknown prefix exits 2."""
    two_orgs.publish(1)
    assert two_orgs.run("sync")[0] == 0
    first = two_orgs.live_sha256("production")
    assert first is not None
    two_orgs.publish(2)
    assert two_orgs.run("sync")[0] == 0
    code, _, err = two_orgs.run(
        "rollback", "--connector", "lightning/production", "--to", first[:10]
    )
    assert code == 0, err
    assert two_orgs.live_sha256("production") == first
    code, _, err = two_orgs.run(
        "rollback", "--connector", "lightning/production", "--to", "ffffffff"
    )
    assert code == 2
    assert "no kept build starts with 'ffffffff'" in err


def test_verify_detects_a_body_changed_behind_sfsyncs_back(two_orgs: SyncSite) -> None:
    """verify exits 1 when the org serves something else than what sfsync pushed."""
    two_orgs.publish(1)
    assert two_orgs.run("sync")[0] == 0
    resource = two_orgs.orgs["sandbox"].static_resources[RESOURCE]
    resource.body = b"tampered"
    code, out, _ = two_orgs.run("verify", "--connector", "lightning/sandbox")
    assert code == 1
    assert "mismatch" in out
    assert hashlib.sha256(b"tampered").hexdigest()[:12] in out


def test_status_shows_what_is_live(two_orgs: SyncSite) -> None:
    """status --json reports the live hash, the last push and the pause from the state store."""
    two_orgs.publish(1)
    assert two_orgs.run("sync")[0] == 0
    code, out, err = two_orgs.run("status", "--json")
    assert code == 0, err
    rows = {row["connector"]: row for row in json.loads(out)["connectors"]}
    sandbox = rows["lightning/sandbox"]
    assert sandbox["live_sha256"] == two_orgs.live_sha256("sandbox")
    assert sandbox["last_result"] == "pushed"
    assert sandbox["paused"] is False
    assert sandbox["last_error"] is None
    assert sandbox["live_since"] is not None
    # The timestamp form browsers load, and it serves the pushed package's files.
    stamp = int(datetime.fromisoformat(sandbox["live_since"]).timestamp() * 1000)
    org = two_orgs.orgs["sandbox"]
    assert sandbox["content_url"] == f"{org.instance_url}/resource/{stamp}/{RESOURCE}/"
    served = requests.get(
        sandbox["content_url"] + "settings.json", verify=str(two_orgs.emu.ca_path), timeout=10
    )
    assert served.status_code == 200
    assert json.loads(served.content)["version"] == 1
