"""`sfsync revoke`: revoke a connector's token at Salesforce, then forget it locally."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from sfsync.auth_wiring import AuthDeps
from sfsync.config import Connector
from sfsync.errors import SalesforceError
from sfsync.salesforce.oauth import revoke_token

log = structlog.get_logger("sfsync.revoke")


@dataclass(frozen=True)
class Revoked:
    """The outcome: whether there was an entry, whether Salesforce revoked it, and why not."""

    had_entry: bool
    revoked_remotely: bool
    warning: str | None


def revoke(connector: Connector, deps: AuthDeps) -> Revoked:
    """Given a connector, revoke its refresh token at Salesforce and delete its keyring entry.

    The entry is deleted even when Salesforce cannot be reached (the outcome carries the
    warning), so a connector can always be forgotten. Raise TokenStoreError if the keyring
    cannot be used.
    """
    record = deps.store.get(connector.name)
    if record is None:
        return Revoked(had_entry=False, revoked_remotely=False, warning=None)
    warning = None
    revoked_remotely = False
    holders = _other_holders(connector.name, record.refresh_token, deps)
    if holders:
        # Authorized together: revoking at Salesforce would cut the others off too.
        warning = (
            f"the refresh token is shared with {', '.join(holders)} (authorized together), so "
            "it stays valid at Salesforce; revoke those too to end the approval"
        )
    elif record.refresh_token is None:
        warning = (
            f"{connector.name} uses the JWT flow: there is no refresh token to revoke; remove "
            f"the pre-authorization of {record.username} on the app to cut its access"
        )
    else:
        try:
            revoke_token(deps.http, record.instance_url, record.refresh_token, connector.name)
            revoked_remotely = True
        except SalesforceError as error:
            warning = (
                f"could not revoke the token at Salesforce ({error}); the keyring entry is "
                "deleted anyway: revoke the app's access under the user's OAuth Connected Apps "
                "in Setup"
            )
    deps.store.delete(connector.name)
    log.info("connector revoked", connector=connector.name, remote=revoked_remotely)
    return Revoked(had_entry=True, revoked_remotely=revoked_remotely, warning=warning)


def _other_holders(connector: str, token: str | None, deps: AuthDeps) -> list[str]:
    """Return the other configured connectors whose keyring entry holds the same token."""
    if token is None:
        return []
    others = [c.name for c in deps.loaded.connectors if c.name != connector]
    return [
        name
        for name, record in deps.store.get_many(others).items()
        if record is not None and record.refresh_token == token
    ]
