"""The HTTP session: a configured CA bundle beats REQUESTS_CA_BUNDLE; a default timeout;
the environment's proxies per request; connection pools shared between sessions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import responses

from sfsync.errors import ConfigError, UsageError
from sfsync.http_session import HttpSettings, new_http_session


def test_configured_bundle_beats_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE set, the configured bundle is still used."""
    bundle = tmp_path / "corp.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/elsewhere/requests.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/elsewhere/curl.pem")
    http = new_http_session(HttpSettings(verify=bundle))
    settings = http.merge_environment_settings("https://x.my.salesforce.com", {}, None, None, None)
    assert settings["verify"] == str(bundle)


def test_environment_bundle_applies_without_a_configured_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no bundle configured, REQUESTS_CA_BUNDLE still applies, as operators expect."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    http = new_http_session(HttpSettings())
    settings = http.merge_environment_settings("https://x.my.salesforce.com", {}, None, None, None)
    assert settings["verify"] == "/etc/ssl/corp.pem"


def test_missing_bundle_is_a_config_error(tmp_path: Path) -> None:
    """A ca_bundle that is not a file is a ConfigError naming it, not an internal error."""
    with pytest.raises(ConfigError, match="ca_bundle"):
        new_http_session(HttpSettings(verify=tmp_path / "missing.pem"))


def test_unverified_tls_only_for_loopback() -> None:
    """verify=False is refused for a remote host before anything is sent."""
    http = new_http_session(HttpSettings(verify=False))
    with pytest.raises(UsageError, match="without TLS verification"):
        http.get("https://acme.my.salesforce.com/services/data")


@responses.activate
def test_default_timeout_is_applied() -> None:
    """Requests that name no timeout get the configured one."""
    responses.get("https://acme.my.salesforce.com/x", json={})
    seen = []
    http = new_http_session(HttpSettings(timeout=7))
    original = http.get_adapter("https://").send

    def spy(request: object, **kwargs: object) -> object:
        seen.append(kwargs.get("timeout"))
        return original(request, **kwargs)  # type: ignore[arg-type]

    http.get_adapter("https://").send = spy  # type: ignore[method-assign,assignment]
    http.get("https://acme.my.salesforce.com/x")
    assert seen == [7]


def test_environment_proxies_apply_to_every_request_of_an_origin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY and NO_PROXY apply to each request, also once they are worked out per origin."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.my.salesforce.com")
    http = new_http_session(HttpSettings())
    for path in ("/a", "/b"):
        settings = http.merge_environment_settings(
            f"https://x.my.salesforce.com{path}", {}, None, None, None
        )
        assert settings["proxies"].get("https") == "http://proxy.example:3128"
        settings["proxies"].clear()  # a caller changing its copy changes nothing for the next
    direct = http.merge_environment_settings(
        "https://direct.my.salesforce.com/a", {}, None, None, None
    )
    assert "https" not in direct["proxies"]


def test_sessions_given_pools_send_through_the_same_adapters(tmp_path: Path) -> None:
    """A session made with `pools` uses that session's adapters (its connection pools)."""
    bundle = tmp_path / "corp.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    shared = new_http_session(HttpSettings(verify=bundle))
    one = new_http_session(HttpSettings(verify=bundle), pools=shared)
    other = new_http_session(HttpSettings(verify=bundle), pools=shared)
    url = "https://x.my.salesforce.com/services/data"
    assert one.get_adapter(url) is shared.get_adapter(url)
    assert other.get_adapter(url) is shared.get_adapter(url)
    assert one.verify == str(bundle)


@responses.activate
def test_netrc_never_replaces_a_salesforce_calls_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ~/.netrc entry for the org (or a `default` one) is not sent to Salesforce: the call
    goes with its own Bearer header. An http source's session still honours netrc.
    """
    netrc = tmp_path / "netrc"
    netrc.write_text("machine x.my.salesforce.com login admin password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    responses.get("https://x.my.salesforce.com/services/data/", json=[])
    http = new_http_session(HttpSettings())
    http.get("https://x.my.salesforce.com/services/data/", headers={"Authorization": "Bearer t"})
    assert responses.calls[0].request.headers["Authorization"] == "Bearer t"
    source = new_http_session(HttpSettings(), follow_redirects=True)
    source.get("https://x.my.salesforce.com/services/data/")
    assert responses.calls[1].request.headers["Authorization"].startswith("Basic ")
