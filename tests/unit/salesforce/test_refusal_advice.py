"""Each OAuth refusal gets advice about its own cause (SPEC section 7, FACTS 1b): only an
expired or revoked token says "authorize again".
"""

from __future__ import annotations

import pytest

from sfsync.salesforce.token_endpoint import OAuthRefusal, refusal_error, secret_required

CONNECTOR = "lightning/production"


def advice(error: str, description: str = "") -> str:
    return str(refusal_error(OAuthRefusal(400, error, description), CONNECTOR, "token refresh"))


def test_expired_token_says_authorize_again() -> None:
    """expired access/refresh token: a pasteable authorize command for this connector."""
    text = advice("invalid_grant", "expired access/refresh token")
    assert "run `sfsync authorize --env production --system lightning`" in text


@pytest.mark.parametrize(
    ("description", "needle"),
    [
        ("ip restricted", "Login IP Ranges"),
        ("inactive user", "reactivate"),
        ("user hasn't approved this consumer", "pre-authorize"),
    ],
)
def test_grant_variants_name_what_the_admin_changes(description: str, needle: str) -> None:
    """ip restricted, inactive user, not approved: what to change in the org, not re-authorize."""
    text = advice("invalid_grant", description)
    assert needle in text
    assert "run `sfsync authorize" not in text


def test_invalid_client_names_the_secret_switches_and_the_option() -> None:
    """invalid_client: the two ECA switches and --client-secret-stdin, not client_id."""
    error = refusal_error(
        OAuthRefusal(400, "invalid_client", "invalid client credentials"), CONNECTOR, "refresh"
    )
    text = str(error)
    assert "Require secret for Web Server Flow" in text
    assert "Require secret for Refresh Token Flow" in text
    assert "--client-secret-stdin" in text
    assert secret_required(error)


def test_unknown_client_id_names_the_per_org_app() -> None:
    """invalid_client_id: the org's own app's consumer key, per environment."""
    error = refusal_error(
        OAuthRefusal(400, "invalid_client_id", "client identifier invalid"), CONNECTOR, "x"
    )
    assert "client_id for this environment" in str(error)
    assert not secret_required(error)
