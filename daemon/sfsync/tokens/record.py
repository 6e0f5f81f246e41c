"""The JSON value kept in the keyring for one connector, and its (de)serialisation."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sfsync.errors import TokenStoreError

SERVICE = "sfsync"
Flow = Literal["web", "device", "jwt"]


@dataclass(frozen=True)
class StoredAuthorization:
    """What sfsync keeps per connector. `refresh_token` is None for JWT connectors, which keep
    `username` and `key_path` instead; `refreshed_at` drives the keep-alive refresh.
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

    def __repr__(self) -> str:
        # A record may end up in a traceback or a debugger; its refresh token must not.
        shown = "None" if self.refresh_token is None else "'[redacted]'"
        return (
            f"StoredAuthorization(flow={self.flow!r}, instance_url={self.instance_url!r}, "
            f"refresh_token={shown}, username={self.username!r})"
        )

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
            {key: value for key, value in asdict(self).items() if value is not None},
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
            record = cls(**{key: data[key] for key in data if key in cls.__dataclass_fields__})
        except (AttributeError, TypeError):
            raise TokenStoreError(
                f"keyring entry {SERVICE}/{connector} is not an sfsync authorization; "
                f"run `sfsync revoke` and `sfsync authorize` for {connector}"
            ) from None
        if record.refresh_token is None and (record.username is None or record.key_path is None):
            raise TokenStoreError(
                f"keyring entry {SERVICE}/{connector} holds neither a refresh token nor JWT "
                f"settings; run `sfsync authorize` for {connector} again"
            )
        return record
