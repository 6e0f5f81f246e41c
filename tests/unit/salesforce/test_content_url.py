"""content_url: the timestamp form on the serving host (SPEC section 7, FACTS 2d)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sfsync.salesforce.content_url import GUESSED_HOST_NOTE, UNKNOWN_HOST_NOTE, content_url

LIVE = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
STAMP = int(LIVE.timestamp() * 1000)


@pytest.mark.parametrize(
    ("instance_url", "base", "note"),
    [
        ("https://acme.my.salesforce.com", "https://acme--c.vf.force.com", GUESSED_HOST_NOTE),
        (
            "https://acme--uat.sandbox.my.salesforce.com",
            "https://acme--uat--c.sandbox.vf.force.com",
            GUESSED_HOST_NOTE,
        ),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443", None),
        ("https://na1.salesforce.com", "https://na1.salesforce.com", UNKNOWN_HOST_NOTE),
    ],
)
def test_serving_host_and_timestamp(instance_url: str, base: str, note: str | None) -> None:
    """My Domain hosts map to their Visualforce domain; the emulator serves itself."""
    found = content_url(instance_url, "WalkMe", LIVE)
    assert found.url == f"{base}/resource/{STAMP}/WalkMe/"
    assert found.note == note


def test_nothing_live_yet_gives_the_plain_form() -> None:
    """Before the first push there is no timestamp to give."""
    assert content_url("https://127.0.0.1:1", "R", None).url == "https://127.0.0.1:1/resource/R/"


def test_a_namespace_prefixes_the_name() -> None:
    """In a namespaced org the resource is served as ns__Name."""
    assert (
        "/resource/1/acme__R/"
        in content_url("https://127.0.0.1:1", "R", datetime.fromtimestamp(0.001, UTC), "acme").url
    )
