"""The http source against a real HTTPS server on loopback: request counts seen by the server,
conditional GETs with a real ETag, and downloads that break off or never end.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

from sfsync.config.schema import Config, HttpSource
from sfsync.errors import NothingPublishedError, SourceError
from sfsync.sources.http import PACKAGE_NAME, HttpPackageSource, http_session_for
from tests.fixtures.http_server import PackageServer, etag_of

FIRST = b"PK\x03\x04" + b"first publish " * 5000
SECOND = b"PK\x03\x04" + b"second publish " * 5000


def config_for(url: str, ca_bundle: Path | None) -> Config:
    oauth: dict[str, str] = {"client_id": "x"}
    if ca_bundle is not None:
        oauth["ca_bundle"] = str(ca_bundle)
    return Config.model_validate(
        {
            "oauth": oauth,
            "systems": {
                "lightning": {
                    "resource": "WalkMe",
                    "source": {"type": "http", "url": url},
                    "environments": {"sandbox": {}},
                }
            },
        }
    )


def make_source(
    server: PackageServer,
    cache_dir: Path,
    *,
    url: str | None = None,
    max_bytes: int = 10_000_000,
    trusted: bool = True,
) -> HttpPackageSource:
    """A source for the server's package, over the session the daemon would build."""
    url = url or server.url
    session = http_session_for(config_for(url, server.ca_path if trusted else None))
    return HttpPackageSource(
        "lightning",
        HttpSource(type="http", url=url, max_bytes=max_bytes),
        cache_dir,
        session,
        timeout=5,
    )


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "sources" / "lightning"


def test_unchanged_file_costs_one_304(server: PackageServer, cache_dir: Path) -> None:
    """The second poll of an unchanged file is one request that the server answers 304."""
    etag = server.publish(FIRST)
    source = make_source(server, cache_dir)
    first = source.fetch()
    second = source.fetch()
    assert server.statuses() == [200, 304]
    assert server.exchanges[1].headers["If-None-Match"] == etag
    assert (first.changed, second.changed) == (True, False)
    assert first.version == second.version == f"etag:{etag}"
    assert second.path.read_bytes() == FIRST


def test_replaced_file_is_downloaded_once(server: PackageServer, cache_dir: Path) -> None:
    """A newly published file is downloaded by the next poll only, then answered 304 again."""
    server.publish(FIRST)
    source = make_source(server, cache_dir)
    source.fetch()
    etag = server.publish(SECOND)
    newer = source.fetch()
    again = source.fetch()
    assert server.statuses() == [200, 200, 304]
    assert (newer.changed, newer.version) == (True, f"etag:{etag}")
    assert again.changed is False
    assert (cache_dir / PACKAGE_NAME).read_bytes() == SECOND


def test_server_closing_mid_body_keeps_the_previous_package(
    server: PackageServer, cache_dir: Path
) -> None:
    """A download cut off halfway is an error; the package from before stays whole."""
    server.publish(FIRST)
    source = make_source(server, cache_dir)
    source.fetch()
    server.publish(SECOND)
    server.fault = "cut"
    with pytest.raises(SourceError, match="broke off") as caught:
        source.fetch()
    assert "SECRETsignature" not in str(caught.value)
    assert (cache_dir / PACKAGE_NAME).read_bytes() == FIRST
    assert sorted(path.name for path in cache_dir.iterdir()) == [
        "fetch.lock",
        "package.zip",
        "validators.json",
    ]
    server.fault = None
    recovered = source.fetch()
    assert (recovered.changed, recovered.path.read_bytes()) == (True, SECOND)


def test_endless_body_is_cut_at_max_bytes(server: PackageServer, cache_dir: Path) -> None:
    """A body with no Content-Length that never ends is refused once past max_bytes, and the
    connection is dropped rather than drained.
    """
    server.publish(FIRST)
    server.fault = "endless"
    source = make_source(server, cache_dir, max_bytes=256 * 1024)
    with pytest.raises(SourceError, match=r"larger than max_bytes \(262144 bytes\)"):
        source.fetch()
    assert server.endless_hung_up.wait(timeout=10)
    assert not (cache_dir / PACKAGE_NAME).exists()
    assert [path.name for path in cache_dir.iterdir()] == ["fetch.lock"]


def test_nothing_published_yet(server: PackageServer, cache_dir: Path) -> None:
    """Before the first publish the server answers 404: nothing published, not a failure."""
    with pytest.raises(NothingPublishedError, match="404 Not Found"):
        make_source(server, cache_dir).fetch()
    assert server.statuses() == [404]


def test_untrusted_certificate_is_a_source_error(server: PackageServer, cache_dir: Path) -> None:
    """Without the ca_bundle (and with an unrelated CA in REQUESTS_CA_BUNDLE) TLS fails, and the
    error says so in one line without the URL's query.
    """
    server.publish(FIRST)
    with pytest.raises(SourceError, match="TLS failed") as caught:
        make_source(server, cache_dir, trusted=False).fetch()
    message = str(caught.value)
    assert "SECRETsignature" not in message
    assert "\n" not in message
    assert server.statuses() == []


def test_connection_refused_is_a_source_error(server: PackageServer, cache_dir: Path) -> None:
    """A port nobody listens on is a SourceError naming the URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"https://127.0.0.1:{port}/walkme/lightning.zip?sig=SECRETsignature"
    with pytest.raises(SourceError, match="cannot connect") as caught:
        make_source(server, cache_dir, url=url).fetch()
    message = str(caught.value)
    assert f"https://127.0.0.1:{port}/walkme/lightning.zip" in message
    assert "SECRETsignature" not in message


def test_server_etag_matches_its_content(server: PackageServer) -> None:
    """The helper's ETag follows the bytes, so the tests above mean something."""
    assert server.publish(FIRST) == etag_of(FIRST) != etag_of(SECOND)
    answer = requests.get(server.url, verify=str(server.ca_path), timeout=5)
    assert answer.headers["ETag"] == etag_of(FIRST)
    assert answer.content == FIRST
