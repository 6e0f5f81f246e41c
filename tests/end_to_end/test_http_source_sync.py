"""An http source end to end: `sfsync sync` and `sfsync run` downloading the package from a
real HTTPS server with ETags, pushing to the emulator, and costing one 304 when unchanged.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfsync_emulator import Emulator
from tests.fixtures.daemon_support import start_daemon
from tests.fixtures.http_server import PackageServer, package_server
from tests.fixtures.sync_support import RESOURCE, SyncSite, package_bytes, sync_site
from tests.fixtures.wait import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def cdn(tmp_path: Path) -> Iterator[PackageServer]:
    """A package server with its own CA, as a CDN would be."""
    with package_server(tmp_path / "cdn") as server:
        yield server


def http_site(
    root: Path, emu: Emulator, cdn: PackageServer, poll: str, secret_service_here: dict[str, str]
) -> SyncSite:
    """A site whose one system downloads from the CDN; one authorized org."""
    site = sync_site(root, emu, {"sandbox": emu.add_org(name="sandbox")}, {}, secret_service_here)
    # One bundle trusting both the emulator and the CDN: [oauth] ca_bundle names an extra CA.
    bundle = root / "trust.pem"
    bundle.write_bytes(emu.ca_path.read_bytes() + cdn.ca_path.read_bytes())
    text = site.site.config.read_text()
    text = re.sub(r'ca_bundle = ".*"', f'ca_bundle = "{bundle}"', text)
    text = re.sub(
        r"source = \{.*\}",
        f'source = {{ type = "http", url = "{cdn.url}", poll = "{poll}" }}',
        text,
    )
    site.site.config.write_text(text)
    site.authorize("sandbox")
    return site


def manifest(site: SyncSite) -> dict[str, str]:
    body = site.orgs["sandbox"].static_resources[RESOURCE].body
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return dict(json.loads(archive.read("sfsync-manifest.json")))


def test_sync_downloads_once_and_an_unchanged_url_costs_one_304(
    tmp_path: Path, emu: Emulator, cdn: PackageServer, secret_service_here: dict[str, str]
) -> None:
    """First sync: one 200 and a push, the ETag as the source version; second: one 304 and no
    Salesforce call; a new file on the CDN goes live on the next sync.
    """
    site = http_site(tmp_path, emu, cdn, "5m", secret_service_here=secret_service_here)
    etag = cdn.publish(package_bytes(1))
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert cdn.statuses() == [200]
    assert manifest(site)["source_version"] == f"etag:{etag}"
    calls = site.api_calls("sandbox")
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert cdn.statuses() == [200, 304]
    assert site.api_calls("sandbox") == calls
    second = cdn.publish(package_bytes(2))
    code, out, err = site.run("sync")
    assert code == 0, out + err
    assert cdn.statuses() == [200, 304, 200]
    assert manifest(site)["source_version"] == f"etag:{second}"
    assert "SECRETsignature" not in out + err


def test_a_cdn_failure_is_a_failed_check_and_nothing_is_pushed(
    tmp_path: Path, emu: Emulator, cdn: PackageServer, secret_service_here: dict[str, str]
) -> None:
    """A cut download fails the cycle (exit 1) with a one-line reason; the org is untouched."""
    site = http_site(tmp_path, emu, cdn, "5m", secret_service_here=secret_service_here)
    cdn.publish(package_bytes(1))
    cdn.fault = "cut"
    code, out, err = site.run("sync")
    assert code == 1, out + err
    assert site.orgs["sandbox"].static_resources.get(RESOURCE) is None
    assert site.api_calls("sandbox") == 0
    assert "SECRETsignature" not in out + err


def test_the_daemon_polls_and_pushes_a_new_file(
    tmp_path: Path, emu: Emulator, cdn: PackageServer, secret_service_here: dict[str, str]
) -> None:
    """`sfsync run` polls every second: unchanged polls are 304s with no push; a new file on
    the CDN goes live within a few seconds.
    """
    site = http_site(tmp_path, emu, cdn, "1s", secret_service_here=secret_service_here)
    cdn.publish(package_bytes(1))
    daemon = start_daemon(site)
    try:
        wait_until(lambda: site.live_sha256("sandbox"), 20, "v1 live")
        writes = site.orgs["sandbox"].count(api="tooling", method="POST")
        wait_until(lambda: cdn.statuses().count(304) >= 2, 10, "two 304 polls")
        assert site.orgs["sandbox"].count(api="tooling", method="POST") == writes
        first = site.live_sha256("sandbox")
        second = cdn.publish(package_bytes(2))
        wait_until(lambda: site.live_sha256("sandbox") != first, 15, "v2 live")
        assert manifest(site)["source_version"] == f"etag:{second}"
        assert daemon.metric("sfsync_source_checks_total", system="lightning", result="same")
    finally:
        daemon.kill()
