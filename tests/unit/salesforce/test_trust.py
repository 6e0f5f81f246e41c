"""Where a token answer may send sfsync (SPEC section 7): https, Salesforce or the login host."""

from __future__ import annotations

import pytest

from sfsync.salesforce.trust import endpoint_problem

LOGIN = "https://login.salesforce.com"


@pytest.mark.parametrize(
    ("url", "login_url"),
    [
        ("https://acme.my.salesforce.com", LOGIN),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
        ("https://acme.my.salesforce.mil", LOGIN),
        ("https://login.salesforce.com/id/00D/005", LOGIN),
        ("https://sso.acme.example/id/x", "https://sso.acme.example"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:9443"),
        ("https://localhost:8443", "https://127.0.0.1:9443"),
    ],
)
def test_trusted_endpoints(url: str, login_url: str) -> None:
    """Salesforce domains, the login host itself, and loopback behind a loopback login."""
    assert endpoint_problem(url, login_url) is None


@pytest.mark.parametrize(
    ("url", "login_url", "problem"),
    [
        ("http://acme.my.salesforce.com", LOGIN, "not an https URL"),
        ("https://evil.example", LOGIN, "neither on a Salesforce domain"),
        ("https://salesforce.com.evil.example", LOGIN, "neither on a Salesforce domain"),
        ("https://evilsalesforce.com", LOGIN, "neither on a Salesforce domain"),
        ("https://127.0.0.1:8443", LOGIN, "neither on a Salesforce domain"),
        ("https://evil.example", "https://127.0.0.1:9443", "neither on a Salesforce domain"),
        ("not a url", LOGIN, "not an https URL"),
    ],
)
def test_untrusted_endpoints(url: str, login_url: str, problem: str) -> None:
    """Plain http, look-alike hosts and loopback behind a real login are refused."""
    found = endpoint_problem(url, login_url)
    assert found is not None
    assert problem in found
