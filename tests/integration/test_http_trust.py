"""The trust of every HTTPS connection sfsync opens, over real sockets: requests' own CA bundle
(with `verify = true`) is parsed once per session, not once per connection, and still decides
which servers are trusted.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import requests.adapters
import trustme

from sfsync.http_session import HttpSettings, new_http_session
from tests.fixtures.http_server import PackageServer, package_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PackageServer]:
    """An HTTPS server with a CA of its own, serving one file."""
    with package_server(tmp_path / "served") as state:
        state.publish(b"hello")
        yield state


@pytest.fixture
def bundle_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count every CA bundle a TLS context parses from here on."""
    loads: list[str] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(context: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(str(args[0] if args else kwargs.get("cafile")))
        load(context, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    return loads


def test_default_bundle_is_parsed_once_for_many_connections(
    server: PackageServer, bundle_loads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `verify = true` and requests' bundle trusting the server, five requests over five
    new connections succeed and parse the bundle once (before: once per connection).
    """
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(server.ca_path))
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    http = new_http_session(HttpSettings(verify=True))
    for _ in range(5):
        answer = http.get(server.url)
        assert answer.content == b"hello"
        http.close()  # the next request opens a new connection
    assert bundle_loads == [str(server.ca_path)]


def test_default_bundle_still_decides_the_trust(
    server: PackageServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `verify = true` and requests' bundle holding another CA, the server is refused."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(other))
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    http = new_http_session(HttpSettings(verify=True))
    with pytest.raises(requests.exceptions.SSLError):
        http.get(server.url)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_an_environment_bundle_is_parsed_once_and_decides_the_trust(
    server: PackageServer,
    bundle_loads: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    """With `verify = true` and the bundle named by REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE), as a
    TLS-inspecting proxy's CA is often given, five new connections parse it once (before: once
    per connection, 52.8 ms of CPU each with 145 CAs); a bundle there without the server's CA
    still refuses it.
    """
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(other))
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(server.ca_path))
    http = new_http_session(HttpSettings(verify=True))
    for _ in range(5):
        assert http.get(server.url).content == b"hello"
        http.close()
    assert bundle_loads == [str(server.ca_path)]

    monkeypatch.setenv(variable, str(other))
    with pytest.raises(requests.exceptions.SSLError):
        new_http_session(HttpSettings(verify=True)).get(server.url)
