"""The pure rules of `sfsync authorize`: one org per round trip, and the approval warning."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sfsync.actions.authorize import (
    APPROVAL_LIMIT,
    AuthorizeOptions,
    approval_warnings,
    check_one_app,
    check_options,
)
from sfsync.config import Connector
from sfsync.config.schema import DirSource
from sfsync.errors import UsageError
from sfsync.tokens.record import StoredAuthorization

ORG = "00D000000000001AAA"
USER = "005000000000001AAA"


def connector(
    system: str, login_url: str = "https://test.salesforce.com", app: str = "A"
) -> Connector:
    return Connector(
        system=system,
        environment="sandbox",
        resource="R",
        cache_control="Private",
        source=DirSource(type="dir", path=Path("/x"), settle=timedelta(seconds=1)),
        settings_file="settings.json",
        login_url=login_url,
        client_id=app,
        api="tooling",
        overrides={},
        verify=False,
        requires=None,
        soak=None,
    )


def record(token: str, *, user: str = USER, org: str = ORG, app: str = "A") -> StoredAuthorization:
    return StoredAuthorization(
        flow="web",
        instance_url="https://acme.my.salesforce.com",
        identity_url=f"https://login.salesforce.com/id/{org}/{user}",
        login_url="https://login.salesforce.com",
        client_id=app,
        issued_at="2026-12-07T00:00:00+00:00",
        refresh_token=token,
        org_id=org,
        user_id=user,
        username="integration@acme.example",
    )


def test_connectors_of_one_app_go_together() -> None:
    """Same login URL and app: one round trip, led by the first."""
    assert check_one_app([connector("a"), connector("b")]).system == "a"


@pytest.mark.parametrize(
    "other",
    [connector("b", login_url="https://acme.my.salesforce.com"), connector("b", app="B")],
)
def test_connectors_of_two_apps_are_refused(other: Connector) -> None:
    """Another login URL or app means another org: refused, naming both connectors."""
    with pytest.raises(UsageError, match="a/sandbox and b/sandbox use different"):
        check_one_app([connector("a"), other])


def test_below_the_limit_no_warning() -> None:
    """Four approvals of one user and app: quiet."""
    everyone = {f"s{n}/x": record(f"t{n}") for n in range(APPROVAL_LIMIT - 1)}
    assert approval_warnings(record("t0"), everyone) == ()


def test_at_the_limit_a_warning_names_user_app_and_org() -> None:
    """Five distinct refresh tokens of one user, app and org: one warning."""
    everyone = {f"s{n}/x": record(f"t{n}") for n in range(APPROVAL_LIMIT)}
    (warning,) = approval_warnings(record("t0"), everyone)
    assert f"holds {APPROVAL_LIMIT} approvals of app A in org {ORG}" in warning
    assert "--all-systems" in warning


def test_shared_tokens_other_users_and_apps_do_not_count() -> None:
    """One token shared by many connectors is one approval; other users or apps are apart."""
    everyone = {f"s{n}/x": record("shared") for n in range(8)}
    everyone |= {"u/x": record("t1", user="005000000000002AAA"), "v/x": record("t2", app="B")}
    assert approval_warnings(record("shared"), everyone) == ()


@pytest.mark.parametrize(("flow", "refused"), [("web", False), ("device", False), ("jwt", True)])
def test_a_consumer_secret_is_for_flows_with_a_refresh_token(flow: str, refused: bool) -> None:
    """The secret is kept for refreshes: web and device flows take it, the JWT flow has none."""
    options = AuthorizeOptions(
        flow=flow,  # type: ignore[arg-type]
        client_secret="s",
        username="u" if flow == "jwt" else None,
        key_path=Path("/k.pem") if flow == "jwt" else None,
    )
    if refused:
        with pytest.raises(UsageError, match="not --flow jwt"):
            check_options(options)
    else:
        check_options(options)
