"""Org and user ids come from the token answer's `id` URL path (FACTS 1e), with no call."""

from __future__ import annotations

import pytest

from sfsync.errors import OAuthServerError
from sfsync.salesforce.identity import ids_from_identity_url

ORG = "00D5g000004ABCDEFG"
USER = "0055g000001XYZ0AAA"


@pytest.mark.parametrize(
    "url",
    [
        f"https://login.salesforce.com/id/{ORG}/{USER}",
        f"https://test.salesforce.com/id/{ORG}/{USER}/",
        f"https://127.0.0.1:8443/id/{ORG}/{USER}?version=1",
    ],
)
def test_ids_from_identity_url(url: str) -> None:
    """The 18-character org and user ids are read from the path, whatever the host."""
    assert ids_from_identity_url(url) == (ORG, USER)


def test_fifteen_character_ids_are_accepted() -> None:
    """Older answers carry 15-character ids."""
    assert ids_from_identity_url(f"https://x/id/{ORG[:15]}/{USER[:15]}") == (ORG[:15], USER[:15])


@pytest.mark.parametrize(
    "url",
    [
        f"https://login.salesforce.com/id/{USER}/{ORG}",
        f"https://login.salesforce.com/services/oauth2/userinfo/{ORG}/{USER}",
        "https://login.salesforce.com/id/",
        f"https://login.salesforce.com/id/{ORG}/{USER}/extra",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    """Ids in the wrong order, another path or extra segments are not guessed at."""
    with pytest.raises(OAuthServerError, match="not an identity URL"):
        ids_from_identity_url(url)
