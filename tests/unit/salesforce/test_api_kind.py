"""Naming the Salesforce API a request went to, for the `api` label of the request counter."""

from __future__ import annotations

import pytest

from sfsync.salesforce.api_kind import api_of

INSTANCE = "https://acme.my.salesforce.com"


@pytest.mark.parametrize(
    ("url", "api"),
    [
        # Tooling API
        (
            f"{INSTANCE}/services/data/v64.0/tooling/query?q=SELECT+Id+FROM+StaticResource",
            "tooling",
        ),
        (
            f"{INSTANCE}/services/data/v64.0/tooling/query/?q=SELECT%20Id%20FROM%20StaticResource",
            "tooling",
        ),
        (
            f"{INSTANCE}/services/data/v64.0/tooling/sobjects/StaticResource/081000000000001",
            "tooling",
        ),
        (f"{INSTANCE}/services/data/v59.0/tooling/sobjects/StaticResource", "tooling"),
        # REST (data) API
        (f"{INSTANCE}/services/data/v64.0/sobjects/StaticResource/081000000000001", "rest"),
        (f"{INSTANCE}/services/data/v64.0/query?q=SELECT+Id+FROM+Organization", "rest"),
        (f"{INSTANCE}/services/data/v64.0/limits", "rest"),
        (f"{INSTANCE}/services/data/v64.0/", "rest"),
        (f"{INSTANCE}/services/data/v64.0/sobjects/Account?tooling/=1", "rest"),
        # Metadata API, REST deploys and SOAP
        (f"{INSTANCE}/services/data/v64.0/metadata/deployRequest", "metadata"),
        (
            f"{INSTANCE}/services/data/v64.0/metadata/deployRequest/0Af000000000001?includeDetails=true",
            "metadata",
        ),
        (f"{INSTANCE}/services/Soap/m/64.0", "metadata"),
        (f"{INSTANCE}/services/Soap/m/64.0/00D000000000001", "metadata"),
        # OAuth and identity
        ("https://login.salesforce.com/services/oauth2/token", "oauth"),
        ("https://test.salesforce.com/services/oauth2/token?grant_type=refresh_token", "oauth"),
        (f"{INSTANCE}/services/oauth2/revoke", "oauth"),
        ("https://login.salesforce.com/services/oauth2/authorize?response_type=code", "oauth"),
        ("https://login.salesforce.com/id/00D000000000001EAA/005000000000001AAA", "oauth"),
        (
            "https://login.salesforce.com/id/00D000000000001EAA/005000000000001AAA?version=64.0",
            "oauth",
        ),
        # Anything else
        (f"{INSTANCE}/resource/1767225600000/walkme_lightning", "other"),
        (f"{INSTANCE}/resource/1767225600000/walkme_lightning/index.html?v=2", "other"),
        (f"{INSTANCE}/services/data/", "other"),  # the version list names no API
        (f"{INSTANCE}/services/data/vXX/sobjects", "other"),
        (f"{INSTANCE}/services/Soap/u/64.0", "other"),  # the partner SOAP API is not Metadata
        (f"{INSTANCE}/identity/00D", "other"),
        (f"{INSTANCE}/", "other"),
        ("", "other"),
    ],
)
def test_api_of(url: str, api: str) -> None:
    """Each request URL is named by its path alone; query strings and hosts do not matter."""
    assert api_of(url) == api
