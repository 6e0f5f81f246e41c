"""What the state store holds, as plain records (no I/O), so that deciding code can use them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sfsync.salesforce.limits import ApiUsage


@dataclass(frozen=True)
class BuildKey:
    """What one connector's build inputs (hashed into `key`) build to: deterministic, so the
    same key always means the same ZIP.
    """

    key: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ConnectorState:
    """What the store knows of one connector; a connector never seen has every field empty."""

    connector: str
    resource_id: str | None = None
    live_sha256: str | None = None
    live_content_sha256: str | None = None
    live_since: datetime | None = None
    paused: bool = False
    paused_reason: str | None = None
    pending_deploy_id: str | None = None
    pending_deploy_sha256: str | None = None
    pending_deploy_push_id: int | None = None
    needs_authorization: bool = False
    refused_issued_at: str | None = None  # the refused authorization's `issued_at`
    api_usage: tuple[ApiUsage, float] | None = None  # last reported usage, epoch seconds
    last_error: str | None = None
    # A write to the org may still land until then (its outcome is unknown): check the body.
    recheck_after: datetime | None = None
    org_id: str | None = None  # the org the rest of this state was learnt in
    # What the inputs of the connector's last build made, under their key.
    build: BuildKey | None = None
    # When a token grant for the connector last succeeded (`state.proofs`).
    token_proven_at: datetime | None = None


@dataclass(frozen=True)
class PushRecord:
    """One attempt to make a package live on a connector."""

    id: int
    connector: str
    sha256: str
    content_sha256: str
    source_version: str
    api: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str  # started | pushed | failed | abandoned
    error: str | None


@dataclass(frozen=True)
class BuildRecord:
    """A built package kept on disk for rollback and verify."""

    connector: str
    sha256: str
    content_sha256: str
    source_version: str
    size: int
    built_at: datetime
    source_file: str | None = None  # the published package's path; None if not recorded
