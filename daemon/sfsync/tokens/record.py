"""The JSON value kept in the keyring for one connector, and its (de)serialisation."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sfsync.config.names import authorize_arguments
from sfsync.errors import TokenStoreError

SERVICE = "sfsync"
Flow = Literal["web", "device", "jwt"]


@dataclass(frozen=True)
class StoredAuthorization:
    """What sfsync keeps per connector (SPEC section 6). `refresh_token` is None for JWT
    connectors, which keep `key_path` instead; `username` is who the token acts as (the JWT
    subject, or the user who approved the web or device flow); `org_id`/`user_id` come from the
    token answer's identity URL; `client_secret` is kept when the app requires one;
    `shared_with` names every connector authorized in the same round trip, which share this
    one refresh token (one approval); `refreshed_at` is written with a rotation (a refresh that
    changed nothing else is proven in the state store instead, `token_proven_at`).
    """

    flow: Flow
    instance_url: str
    identity_url: str
    login_url: str
    client_id: str
    issued_at: str
    refresh_token: str | None = None
    username: str | None = None
    key_path: str | None = None
    refreshed_at: str | None = None
    org_id: str | None = None
    user_id: str | None = None
    client_secret: str | None = None
    shared_with: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # A record may end up in a traceback or a debugger; its secrets must not.
        shown = "None" if self.refresh_token is None else "'[redacted]'"
        return (
            f"StoredAuthorization(flow={self.flow!r}, instance_url={self.instance_url!r}, "
            f"refresh_token={shown}, username={self.username!r}, org_id={self.org_id!r})"
        )

    def connector_in(self, other: StoredAuthorization) -> bool:
        """Return whether `other` was authorized in the same round trip as this record."""
        return bool(self.shared_with) and self.shared_with == other.shared_with

    def siblings(self, connector: str) -> tuple[str, ...]:
        """Return the other connectors that hold this record's refresh token with `connector`."""
        return tuple(name for name in self.shared_with if name != connector)

    def with_refresh(
        self, refresh_token: str | None, instance_url: str, now: datetime
    ) -> StoredAuthorization:
        """Return this record after a refresh at `now`, with a rotated token if one came."""
        return replace(
            self,
            refresh_token=refresh_token or self.refresh_token,
            instance_url=instance_url or self.instance_url,
            refreshed_at=now.isoformat(),
        )

    def to_json(self) -> str:
        """Return the record as the JSON text stored in the keyring."""
        return json.dumps(
            {key: value for key, value in asdict(self).items() if value not in (None, ())},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str, connector: str) -> StoredAuthorization:
        """Given the keyring text for a connector, return the record; raise TokenStoreError if
        it is not one sfsync wrote.
        """
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = None
        try:
            data.setdefault("flow", "web" if data.get("refresh_token") else "jwt")
            data["shared_with"] = tuple(str(name) for name in data.get("shared_with") or ())
            record = cls(**{key: data[key] for key in data if key in cls.__dataclass_fields__})
        except (AttributeError, TypeError):
            raise TokenStoreError(
                f"keyring entry {SERVICE}/{connector} is not an sfsync authorization; "
                f"run `sfsync revoke {authorize_arguments(connector)}` and "
                f"`sfsync authorize {authorize_arguments(connector)}`"
            ) from None
        if record.refresh_token is None and (record.username is None or record.key_path is None):
            raise TokenStoreError(
                f"keyring entry {SERVICE}/{connector} holds neither a refresh token nor JWT "
                f"settings; run `sfsync authorize {authorize_arguments(connector)}` again"
            )
        return record
