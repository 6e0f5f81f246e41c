"""Item 8: the http source against a hostile server.

A server sending one byte every half second never trips the per-read timeout, so a download
went on for as long as the server liked (holding the fetch lock). And only the URL a redirect
chain ended on was checked: a hop through plain http to another host was followed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from requests.adapters import BaseAdapter

from sfsync.config.schema import Config, HttpSource
from sfsync.errors import SourceError
from sfsync.sources.http import HttpPackageSource, http_session_for
from tests.fixtures.http_server import REDIRECT_PATH, PackageServer, package_server
from tests.reliability.figures import Figures

pytestmark = pytest.mark.slow

PACKAGE = b"PK\x03\x04" + b"package " * 1000
PLAIN_HOP = "http://plain.example/hop"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PackageServer]:
    """A running package server with a package published."""
    with package_server(tmp_path / "cdn") as running:
        running.publish(PACKAGE)
        yield running


def session_for(server: PackageServer) -> requests.Session:
    """The session the daemon would build, trusting the server's CA."""
    return http_session_for(
        Config.model_validate(
            {
                "oauth": {"client_id": "x", "ca_bundle": str(server.ca_path)},
                "systems": {
                    "lightning": {
                        "resource": "WalkMe",
                        "source": {"type": "http", "url": server.url},
                        "environments": {"sandbox": {}},
                    }
                },
            }
        )
    )


def source(
    server: PackageServer, url: str, session: requests.Session, **kwargs: Any
) -> HttpPackageSource:
    return HttpPackageSource(
        "lightning",
        HttpSource(type="http", url=url),
        server.folder.parent / "cache",
        session,
        5.0,
        **kwargs,
    )


def test_a_trickling_download_ends_at_the_deadline(server: PackageServer, figures: Figures) -> None:
    """One byte every 0.5 s (never 5 s apart) is abandoned at the 2 s total deadline."""
    server.fault = "trickle"
    started = time.monotonic()
    with pytest.raises(SourceError, match="took over 2s in all"):
        source(server, server.url, session_for(server), deadline_seconds=2.0).fetch()
    seconds = time.monotonic() - started
    figures.add("security", "trickling download abandoned after (deadline 2 s)", f"{seconds:.2f}s")
    assert seconds < 4.0
    assert not (server.folder.parent / "cache" / "package.zip").exists()


class _PlainHop(BaseAdapter):
    """Stands for a plain-http host on the way: records requests, redirects to `target`."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target
        self.requested: list[str] = []

    def send(self, request: requests.PreparedRequest, **_: object) -> requests.Response:  # type: ignore[override]
        self.requested.append(str(request.url))
        response = requests.Response()
        response.status_code = 302
        response.headers["Location"] = self.target
        response.url = str(request.url)
        response.request = request
        response.raw = None
        response._content = b""
        return response

    def close(self) -> None:
        """Nothing to release."""


def test_a_plain_http_hop_in_a_redirect_chain_is_refused(server: PackageServer) -> None:
    """https → plain http on another host → https: refused at the plain hop, which is never
    requested (before, the chain was followed and only its https end was checked).
    """
    session = session_for(server)
    hop = _PlainHop(server.url)
    session.mount("http://plain.example/", hop)
    start = f"{server.base_url}{REDIRECT_PATH}?to={quote(PLAIN_HOP, safe='')}"
    with pytest.raises(SourceError, match=r"redirected to plain http at plain\.example"):
        source(server, start, session).fetch()
    assert hop.requested == []


def test_a_redirect_chain_over_https_is_followed(server: PackageServer) -> None:
    """Redirects that stay on https are followed to the package."""
    start = f"{server.base_url}{REDIRECT_PATH}?to={quote(server.url, safe='')}"
    fetched = source(server, start, session_for(server)).fetch()
    assert fetched.path.read_bytes() == PACKAGE
