"""Making one build live on one connector, recording every step so a crash loses nothing.

The order is what makes a crash harmless: the build is kept on disk and a 'started' push is
recorded before Salesforce is called; the push becomes 'pushed' (and the build live) only after
Salesforce confirmed it, in one transaction. A restart finds at worst a 'started' push, marks it
abandoned and pushes again; a Tooling PATCH of the same body is idempotent, and a Metadata
deploy that may still run is checked before anything is deployed anew.

A write that got no answer (a timeout, a reset, a 5xx, a killed process) may still be applied
by the org later, even after a newer push: such a connector is "in doubt" until
`doubt_window(api)` after the write was given up, and its org's body is read back once after
that (`recheck`), unless a push that began after it proved the body anyway. A deploy request
that got no answer may have queued a deploy that runs for a while yet, so a Metadata
connector's doubt also covers the deploy patience.

The pusher works from the connector's state the cycle planned with and does not read it again:
what a push learns (the resource's Id, a deploy's id, a doubt) it writes, and the rest is in
the transaction that ends the push. `tooling_push` and `metadata_deploy` hold each API's part,
`kept_builds` the builds kept on disk.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

import structlog

from sfsync.config import Connector
from sfsync.errors import ApiError, AuthorizationError, SalesforceUnreachableError, SfsyncError
from sfsync.package.build import BuiltPackage
from sfsync.salesforce.limits import ApiUsage
from sfsync.salesforce.metadata import DeployStatus, MetadataClient
from sfsync.salesforce.retry import RetryPolicy, TransientApiError, with_retries
from sfsync.salesforce.session import ConnectorSession
from sfsync.salesforce.tooling import ToolingClient
from sfsync.state.packages import PackageArchive
from sfsync.state.records import ConnectorState
from sfsync.state.store import StateStore
from sfsync.sync.kept_builds import KeptBuild, load_kept_build, prune_kept_builds
from sfsync.sync.metadata_deploy import MetadataDeploy, deploy_failure
from sfsync.sync.result import Result
from sfsync.sync.tooling_push import Attempts, ResourceId, ToolingPush

T = TypeVar("T")

log = structlog.get_logger("sfsync.push")

# Errors after which a write may still be applied: no answer, or a server error mid-write.
_UNANSWERED = (SalesforceUnreachableError, TransientApiError)


@dataclass(frozen=True)
class PushOutcome:
    """How one push ended: pushed, unchanged (a recheck), failed, needs_authorization or
    deploy_pending; and, when known, until when a write's outcome is still unknown (the org is
    to be checked then).
    """

    outcome: Result
    detail: str
    recheck_after: datetime | None = None


@dataclass
class Pusher:
    """Pushes builds to connectors and keeps the state store and the kept builds in step."""

    store: StateStore
    archive: PackageArchive
    clock: Callable[[], datetime]
    retry: RetryPolicy
    keep_packages: int
    deploy_patience_seconds: float = 300.0
    # How long a request that got no answer may still reach the org (see the module's doc).
    doubt_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    on_usage: Callable[[str, ApiUsage], None] | None = None

    def doubt_window(self, api: str) -> timedelta:
        """Given an API, return how long after giving up on a write to it the write may still
        change what the org serves.
        """
        queued = self.deploy_patience_seconds if api == "metadata" else 0.0
        return timedelta(seconds=self.doubt_seconds + queued)

    # Pushing ---------------------------------------------------------------------------------

    def push(
        self,
        connector: Connector,
        built: BuiltPackage,
        source_version: str,
        session: ConnectorSession,
        *,
        state: ConnectorState,
        source_file: str | None = None,
    ) -> PushOutcome:
        """Given a connector, its build (and the published file it came from), an
        authenticated session and the connector's state the push was planned with, make the
        build live.

        Never raises for a Salesforce or state problem: the outcome says what happened, and
        the store has the push's history either way.
        """
        self.archive.save(connector.name, built.sha256, built.pieces, built.shared)
        push_id = self.store.keep_build_and_begin_push(
            connector.name,
            sha256=built.sha256,
            content_sha256=built.content_sha256,
            source_version=source_version,
            size=built.size,
            api=connector.api,
            now=self.clock(),
            source_file=source_file,
        )
        description = f"sfsync {connector.name} {built.sha256[:12]} ({source_version})"[:255]
        started = self.clock()
        resource = ResourceId(state.resource_id)
        try:
            if connector.api == "metadata":
                return self._deploy(
                    connector, built, session, push_id, description, started, resource
                )
            self._tooling(connector, session).write(built, description, resource)
            self._verify(connector, built.sha256, session, resource)
            return self._pushed(
                connector,
                push_id,
                built.sha256,
                resource,
                settled_by=started,
                detail=f"{built.sha256[:12]} is live ({built.size:,} bytes)",
            )
        except SfsyncError as error:
            return self._failed(connector, push_id, error, session, resource)

    def kept_build(self, connector: Connector, sha256: str) -> KeptBuild:
        """Given a connector and the full hash of one of its kept builds, return that build as
        it was pushed, to be pushed again (a rollback).

        Raise StateError if the build's file cannot be read.
        """
        return load_kept_build(self.store, self.archive, connector.name, sha256)

    # Doubt -----------------------------------------------------------------------------------

    def recheck(
        self,
        connector: Connector,
        built: BuiltPackage,
        source_version: str,
        session: ConnectorSession,
        *,
        state: ConnectorState,
        source_file: str | None = None,
    ) -> PushOutcome:
        """Given a connector in doubt whose live build is `built` (and its planned state), read
        what its org serves: if it is that build, the doubt ends; if a late write replaced it,
        push it again.

        Never raises for a Salesforce or state problem; the doubt stays until a check succeeds.
        """
        checked_from = self.clock()
        resource = ResourceId(state.resource_id)
        try:
            body = self._read_back(connector, session, resource)
        except SfsyncError as error:
            return self._outcome_of(connector, error, session)
        served = hashlib.sha256(body).hexdigest() if body is not None else None
        if served == built.sha256:
            cleared = self.store.clear_doubt(connector.name, settled_by=checked_from)
            return PushOutcome(
                Result.UNCHANGED,
                f"{built.sha256[:12]} is live (checked in the org)",
                recheck_after=None if cleared else state.recheck_after,
            )
        log.warning(
            "a late write replaced the live build",
            connector=connector.name,
            served=served[:12] if served else None,
            live=built.sha256[:12],
        )
        outcome = self.push(
            connector,
            built,
            source_version,
            session,
            state=replace(state, resource_id=resource.value),
            source_file=source_file,
        )
        was = f"the org served {served[:12]}" if served else "the org had no resource"
        return PushOutcome(
            outcome.outcome, f"{was}, not the live build: {outcome.detail}", outcome.recheck_after
        )

    def read_back(
        self, connector: Connector, session: ConnectorSession, *, state: ConnectorState
    ) -> bytes | None:
        """Given a connector, a session and its state, return the body its org serves (found
        by name when the known Id is gone), or None when the org has no such resource; the
        store learns the Id found.

        Raise SfsyncError if the org cannot be read.
        """
        return self._read_back(connector, session, ResourceId(state.resource_id))

    def _read_back(
        self, connector: Connector, session: ConnectorSession, resource: ResourceId
    ) -> bytes | None:
        try:
            return self._tooling(connector, session).read_body(resource)
        finally:
            self._learn(connector, resource)

    def _writing(self, connector: Connector, operation: Callable[[], T]) -> T:
        """Run a write with retries, putting the connector in doubt for every attempt that
        got no answer: it may be applied later, after whatever is written next.
        """

        def doubt(_retry: int, error: BaseException, _delay: float) -> None:
            if isinstance(error, _UNANSWERED):
                self._doubt(connector)

        try:
            return with_retries(operation, self.retry, sleep=self.sleep, on_retry=doubt)
        except _UNANSWERED:
            self._doubt(connector)
            raise

    def _writing_to(self, connector: Connector) -> Attempts:
        def writing(operation: Callable[[], T]) -> T:
            return self._writing(connector, operation)

        return writing

    def _retrying(self, operation: Callable[[], T]) -> T:
        return with_retries(operation, self.retry, sleep=self.sleep)

    def _doubt(self, connector: Connector) -> None:
        # Written at once, before the next attempt: a crash must not lose it.
        until = self.clock() + self.doubt_window(connector.api)
        self.store.doubt_writes(connector.name, until=until)

    # Metadata --------------------------------------------------------------------------------

    def _deploy(  # noqa: PLR0917 - one push's facts
        self,
        connector: Connector,
        built: BuiltPackage,
        session: ConnectorSession,
        push_id: int,
        description: str,
        started: datetime,
        resource: ResourceId,
    ) -> PushOutcome:
        deploys = self._metadata(connector, session)
        deploy_id = deploys.start(built, description, session.api_version)
        self.store.set_pending_deploy(connector.name, deploy_id, built.sha256, push_id)
        try:
            status = deploys.wait(deploy_id)
        except SfsyncError as error:
            # The org took the deploy, which may run to its end whatever this poll met: it
            # stays pending (its push 'started') and is checked before any new deploy.
            if isinstance(error, AuthorizationError):
                return self._outcome_of(connector, error, session)
            return PushOutcome(
                Result.DEPLOY_PENDING,
                f"deploy {deploy_id} started, its status unknown ({error}); checked again",
            )
        return self._conclude(connector, status, push_id, built.sha256, session, started, resource)

    def settle_pending_deploy(
        self, connector: Connector, session: ConnectorSession, *, state: ConnectorState
    ) -> PushOutcome | None:
        """Given a connector whose state (as planned) has a Metadata deploy that may still
        run, check it once.

        Return None when it has ended (its push recorded either way; plan anew), or the
        outcome 'deploy_pending' while it still runs.
        """
        deploy_id = state.pending_deploy_id
        if deploy_id is None:
            return None
        try:
            status = self._metadata(connector, session).status(deploy_id)
        except SfsyncError as error:
            return self._outcome_of(connector, error, session)
        sha256 = state.pending_deploy_sha256 or ""
        push_id = state.pending_deploy_push_id
        if push_id is None:  # written by nothing but a damaged store; record the outcome anew
            push_id = self.store.begin_push(
                connector.name,
                sha256=sha256,
                content_sha256="",
                source_version="",
                api="metadata",
                now=self.clock(),
            )
            self.store.set_pending_deploy(connector.name, deploy_id, sha256, push_id)
        outcome = self._conclude(
            connector, status, push_id, sha256, session, None, ResourceId(state.resource_id)
        )
        return outcome if outcome.outcome is Result.DEPLOY_PENDING else None

    def _conclude(  # noqa: PLR0917 - one deploy's facts, from two callers
        self,
        connector: Connector,
        status: DeployStatus,
        push_id: int,
        sha256: str,
        session: ConnectorSession,
        settled_by: datetime | None,
        resource: ResourceId,
    ) -> PushOutcome:
        """Given a deploy's status, record its push's outcome. The deploy is forgotten only
        with that outcome (one transaction), so a crash before it checks the deploy again
        instead of deploying again.
        """
        if not status.done:
            return PushOutcome(
                Result.DEPLOY_PENDING,
                f"deploy {status.deploy_id} is {status.status}; checked again next cycle",
            )
        try:
            failure = deploy_failure(connector, status)
            if failure is not None:
                raise failure
            self._verify(connector, sha256, session, resource)
        except SfsyncError as error:
            return self._failed(connector, push_id, error, session, resource, forget_deploy=True)
        return self._pushed(
            connector,
            push_id,
            sha256,
            resource,
            settled_by=settled_by,
            detail=f"{sha256[:12]} is live (deploy {status.deploy_id})",
        )

    # Outcomes --------------------------------------------------------------------------------

    def _verify(
        self, connector: Connector, sha256: str, session: ConnectorSession, resource: ResourceId
    ) -> None:
        if not connector.verify:
            return
        body = self._tooling(connector, session).read_body(resource)
        if body is None:
            raise ApiError(f"{connector.name}: verify found no {connector.resource} in the org")
        served = hashlib.sha256(body).hexdigest()
        if served != sha256:
            raise ApiError(
                f"{connector.name}: verify failed: the org serves {served[:12]} "
                f"({len(body):,} bytes), not the pushed {sha256[:12]}"
            )

    def _pushed(
        self,
        connector: Connector,
        push_id: int,
        sha256: str,
        resource: ResourceId,
        *,
        settled_by: datetime | None,
        detail: str,
    ) -> PushOutcome:
        """Record the push's success (with the Id it learnt and, written after every doubted
        write had settled, the end of the doubt: this body is the one the org keeps), then
        prune the kept builds.
        """
        due = self.store.finish_push(
            push_id, resource_id=resource.value, now=self.clock(), settled_by=settled_by
        )
        prune_kept_builds(self.store, self.archive, connector.name, self.keep_packages, sha256)
        return PushOutcome(Result.PUSHED, detail, recheck_after=due)

    def _failed(
        self,
        connector: Connector,
        push_id: int,
        error: SfsyncError,
        session: ConnectorSession,
        resource: ResourceId,
        *,
        forget_deploy: bool = False,
    ) -> PushOutcome:
        self._learn(connector, resource)
        self.store.fail_push(
            push_id, error=str(error), now=self.clock(), forget_deploy=forget_deploy
        )
        return self._outcome_of(connector, error, session)

    def _learn(self, connector: Connector, resource: ResourceId) -> None:
        """Record the resource's Id a call learnt when nothing else records it."""
        if resource.changed:
            self.store.set_resource_id(connector.name, resource.value)
            resource.stored = resource.value

    def _outcome_of(
        self, connector: Connector, error: SfsyncError, session: ConnectorSession
    ) -> PushOutcome:
        """Given why a call failed, return the outcome: a refused authorization marks the
        connector (naming the refused one), anything else is a failure.
        """
        if isinstance(error, AuthorizationError):
            self.store.set_needs_authorization(
                connector.name, needed=True, issued_at=session.issued_at
            )
            return PushOutcome(Result.NEEDS_AUTHORIZATION, str(error))
        return PushOutcome(Result.FAILED, str(error))

    # Adapters --------------------------------------------------------------------------------

    def _tooling(self, connector: Connector, session: ConnectorSession) -> ToolingPush:
        client = ToolingClient(session, self._usage_for(connector.name))
        return ToolingPush(
            client, connector, retrying=self._retrying, writing=self._writing_to(connector)
        )

    def _metadata(self, connector: Connector, session: ConnectorSession) -> MetadataDeploy:
        client = MetadataClient(session, self._usage_for(connector.name))
        return MetadataDeploy(
            client,
            connector,
            retrying=self._retrying,
            writing=self._writing_to(connector),
            patience_seconds=self.deploy_patience_seconds,
            sleep=self.sleep,
        )

    def _usage_for(self, connector: str) -> Callable[[ApiUsage], None] | None:
        report = self.on_usage
        if report is None:
            return None
        return lambda usage: report(connector, usage)
