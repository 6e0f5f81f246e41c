"""Fixtures for the http source's integration tests: a real loopback HTTPS package server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.fixtures.http_server import PackageServer, package_server


@pytest.fixture(autouse=True)
def _foreign_ca_bundle_in_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE at an unrelated CA, as many hosts do: the
    configured ca_bundle must still be what the download trusts (psf/requests#3829).
    """
    foreign = tmp_path / "foreign-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(foreign))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(foreign))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(foreign))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PackageServer]:
    """A running package server with nothing published yet."""
    with package_server(tmp_path / "cdn") as running:
        yield running
