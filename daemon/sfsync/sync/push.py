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
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import structlog

from sfsync.config import Connector
from sfsync.errors import (
    ApiError,
    AuthorizationError,
    DeployError,
    SalesforceUnreachableError,
    SfsyncError,
)
from sfsync.package.build import BuiltPackage
from sfsync.salesforce.deploy_zip import deploy_zip
from sfsync.salesforce.limits import ApiUsage
from sfsync.salesforce.metadata import DeployStatus, MetadataClient
from sfsync.salesforce.retry import RetryPolicy, TransientApiError, with_retries
from sfsync.salesforce.session import ConnectorSession
from sfsync.salesforce.tooling import DuplicateResourceError, ResourceNotFoundError, ToolingClient
from sfsync.state.packages import PackageArchive
from sfsync.state.store import StateStore
from sfsync.sync.result import Result

T = TypeVar("T")

log = structlog.get_logger("sfsync.push")

# Errors after which a write may still be applied: no answer, or a server error mid-write.
_UNANSWERED = (SalesforceUnreachableError, TransientApiError)


@dataclass(frozen=True)
class PushOutcome:
    """How one push ended: pushed, unchanged (a recheck), failed, needs_authorization or
    deploy_pending.
    """

    outcome: Result
    detail: str


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

    def _retrying(self, operation: Callable[[], T]) -> T:
        return with_retries(operation, self.retry, sleep=self.sleep)

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

    def doubt_window(self, api: str) -> timedelta:
        """Given an API, return how long after giving up on a write to it the write may still
        change what the org serves.
        """
        queued = self.deploy_patience_seconds if api == "metadata" else 0.0
        return timedelta(seconds=self.doubt_seconds + queued)

    def _doubt(self, connector: Connector) -> None:
        until = self.clock() + self.doubt_window(connector.api)
        self.store.doubt_writes(connector.name, until=until)

    def _usage_for(self, connector: str) -> Callable[[ApiUsage], None] | None:
        report = self.on_usage
        if report is None:
            return None
        return lambda usage: report(connector, usage)

    def keep_build(
        self,
        connector: Connector,
        built: BuiltPackage,
        source_version: str,
        source_file: str | None = None,
    ) -> None:
        """Keep a build on disk and in the store (with the published file it came from), so
        rollback, verify and history can find it.
        """
        self.archive.save(connector.name, built.sha256, built.data)
        self.store.record_build(
            connector.name,
            sha256=built.sha256,
            content_sha256=built.content_sha256,
            source_version=source_version,
            size=built.size,
            now=self.clock(),
            source_file=source_file,
        )

    def push(
        self,
        connector: Connector,
        built: BuiltPackage,
        source_version: str,
        session: ConnectorSession,
        *,
        source_file: str | None = None,
    ) -> PushOutcome:
        """Given a connector, its build (and the published file it came from) and an
        authenticated session, make the build live.

        Never raises for a Salesforce or state problem: the outcome says what happened, and
        the store has the push's history either way.
        """
        self.keep_build(connector, built, source_version, source_file)
        push_id = self.store.begin_push(
            connector.name,
            sha256=built.sha256,
            content_sha256=built.content_sha256,
            source_version=source_version,
            api=connector.api,
            now=self.clock(),
        )
        description = f"sfsync {connector.name} {built.sha256[:12]} ({source_version})"[:255]
        started = self.clock()
        try:
            if connector.api == "metadata":
                outcome = self._deploy(connector, built, session, push_id, description)
            else:
                resource_id = self._write_tooling(connector, built, session, description)
                self._verify(connector, built.sha256, session, resource_id)
                self.store.finish_push(push_id, resource_id=resource_id, now=self.clock())
                self._prune(connector)
                outcome = PushOutcome(
                    Result.PUSHED, f"{built.sha256[:12]} is live ({built.size:,} bytes)"
                )
        except SfsyncError as error:
            return self._failed(connector, push_id, error, session)
        if outcome.outcome is Result.PUSHED:
            # Written after every doubted write had settled: this body is the one the org keeps.
            self.store.clear_doubt(connector.name, settled_by=started)
        return outcome

    def recheck(
        self,
        connector: Connector,
        built: BuiltPackage,
        source_version: str,
        session: ConnectorSession,
        *,
        source_file: str | None = None,
    ) -> PushOutcome:
        """Given a connector in doubt whose live build is `built`, read what its org serves:
        if it is that build, the doubt ends; if a late write replaced it, push it again.

        Never raises for a Salesforce or state problem; the doubt stays until a check succeeds.
        """
        checked_from = self.clock()
        client = ToolingClient(session, self._usage_for(connector.name))
        try:
            body = self._served_body(connector, client, None)
        except SfsyncError as error:
            return self._outcome_of(connector, error, session)
        served = hashlib.sha256(body).hexdigest() if body is not None else None
        if served == built.sha256:
            self.store.clear_doubt(connector.name, settled_by=checked_from)
            return PushOutcome(
                Result.UNCHANGED, f"{built.sha256[:12]} is live (checked in the org)"
            )
        log.warning(
            "a late write replaced the live build",
            connector=connector.name,
            served=served[:12] if served else None,
            live=built.sha256[:12],
        )
        outcome = self.push(connector, built, source_version, session, source_file=source_file)
        was = f"the org served {served[:12]}" if served else "the org had no resource"
        return PushOutcome(outcome.outcome, f"{was}, not the live build: {outcome.detail}")

    def _served_body(
        self, connector: Connector, client: ToolingClient, resource_id: str | None
    ) -> bytes | None:
        """Return the body the org serves for the connector's resource (looked up by name
        when its Id is not given or not known), or None when the org has no such resource.
        """
        resource_id = resource_id or self.store.connector(connector.name).resource_id
        if resource_id is not None:
            known_id = resource_id
            try:
                return self._retrying(lambda: client.download_body(known_id))
            except ResourceNotFoundError:
                # Deleted (or recreated) in the org since: forget the Id, look it up by name.
                self.store.set_resource_id(connector.name, None)
        found = self._retrying(lambda: client.find_resource(connector.resource))
        if found is None:
            return None
        self.store.set_resource_id(connector.name, found.id)
        return self._retrying(lambda: client.download_body(found.id))

    def _failed(
        self, connector: Connector, push_id: int, error: SfsyncError, session: ConnectorSession
    ) -> PushOutcome:
        self.store.fail_push(push_id, error=str(error), now=self.clock())
        return self._outcome_of(connector, error, session)

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

    # Tooling ---------------------------------------------------------------------------------

    def _write_tooling(
        self,
        connector: Connector,
        built: BuiltPackage,
        session: ConnectorSession,
        description: str,
    ) -> str:
        client = ToolingClient(session, self._usage_for(connector.name))
        resource_id = self.store.connector(connector.name).resource_id
        if resource_id is not None:
            try:
                self._update(client, connector, resource_id, built, description)
            except ResourceNotFoundError:
                # Deleted in the org since the last push: forget the Id and find or create anew.
                self.store.set_resource_id(connector.name, None)
            else:
                return resource_id
        return self._find_or_create(client, connector, built, description)

    def _find_or_create(
        self, client: ToolingClient, connector: Connector, built: BuiltPackage, description: str
    ) -> str:
        found = self._retrying(lambda: client.find_resource(connector.resource))
        if found is None:
            try:
                created = self._writing(
                    connector,
                    lambda: client.create_resource(
                        connector.resource,
                        built.data,
                        cache_control=connector.cache_control,
                        description=description,
                    ),
                )
            except DuplicateResourceError:
                # A create that timed out may have succeeded before its retry: find it.
                found = self._retrying(lambda: client.find_resource(connector.resource))
                if found is None:
                    raise
            else:
                self.store.set_resource_id(connector.name, created)
                return created
        self.store.set_resource_id(connector.name, found.id)
        self._update(client, connector, found.id, built, description)
        return found.id

    def _update(
        self,
        client: ToolingClient,
        connector: Connector,
        resource_id: str,
        built: BuiltPackage,
        description: str,
    ) -> None:
        self._writing(
            connector,
            lambda: client.update_body(
                resource_id,
                built.data,
                cache_control=connector.cache_control,
                description=description,
            ),
        )

    def _verify(
        self, connector: Connector, sha256: str, session: ConnectorSession, resource_id: str | None
    ) -> None:
        if not connector.verify:
            return
        client = ToolingClient(session, self._usage_for(connector.name))
        body = self._served_body(connector, client, resource_id)
        if body is None:
            raise ApiError(f"{connector.name}: verify found no {connector.resource} in the org")
        served = hashlib.sha256(body).hexdigest()
        if served != sha256:
            raise ApiError(
                f"{connector.name}: verify failed: the org serves {served[:12]} "
                f"({len(body):,} bytes), not the pushed {sha256[:12]}"
            )

    # Metadata --------------------------------------------------------------------------------

    def _deploy(
        self,
        connector: Connector,
        built: BuiltPackage,
        session: ConnectorSession,
        push_id: int,
        description: str,
    ) -> PushOutcome:
        client = MetadataClient(session, self._usage_for(connector.name))
        archive = deploy_zip(
            connector.resource,
            built.data,
            cache_control=connector.cache_control,
            description=description,
            api_version=session.api_version,
        )
        deploy_id = self._writing(connector, lambda: client.start_deploy(archive))
        self.store.set_pending_deploy(connector.name, deploy_id, built.sha256, push_id)
        try:
            status = client.wait(
                deploy_id,
                patience_seconds=self.deploy_patience_seconds,
                sleep=self.sleep,
                retrying=self._retrying,
            )
        except SfsyncError as error:
            # The org took the deploy, which may run to its end whatever this poll met: it
            # stays pending (its push 'started') and is checked before any new deploy.
            if isinstance(error, AuthorizationError):
                return self._outcome_of(connector, error, session)
            return PushOutcome(
                Result.DEPLOY_PENDING,
                f"deploy {deploy_id} started, its status unknown ({error}); checked again",
            )
        return self._conclude(connector, status, push_id, built.sha256, session)

    def settle_pending_deploy(
        self, connector: Connector, session: ConnectorSession
    ) -> PushOutcome | None:
        """Given a connector with a Metadata deploy that may still run, check it once.

        Return None when it has ended (its push recorded either way; plan anew), or the
        outcome 'deploy_pending' while it still runs.
        """
        state = self.store.connector(connector.name)
        if state.pending_deploy_id is None:
            return None
        client = MetadataClient(session, self._usage_for(connector.name))
        try:
            status = self._retrying(lambda: client.deploy_status(state.pending_deploy_id or ""))
        except SfsyncError as error:
            return self._outcome_of(connector, error, session)
        push_id = state.pending_deploy_push_id
        if push_id is None:  # written by nothing but a damaged store; record the outcome anew
            push_id = self.store.begin_push(
                connector.name,
                sha256=state.pending_deploy_sha256 or "",
                content_sha256="",
                source_version="",
                api="metadata",
                now=self.clock(),
            )
            self.store.set_pending_deploy(
                connector.name, state.pending_deploy_id, state.pending_deploy_sha256, push_id
            )
        outcome = self._conclude(
            connector, status, push_id, state.pending_deploy_sha256 or "", session
        )
        return outcome if outcome.outcome is Result.DEPLOY_PENDING else None

    def _conclude(
        self,
        connector: Connector,
        status: DeployStatus,
        push_id: int,
        sha256: str,
        session: ConnectorSession,
    ) -> PushOutcome:
        if not status.done:
            return PushOutcome(
                Result.DEPLOY_PENDING,
                f"deploy {status.deploy_id} is {status.status}; checked again next cycle",
            )
        # The deploy has ended; it is forgotten only once its push's outcome is recorded, so a
        # crash before that checks it again instead of deploying again.
        if not status.success:
            error: SfsyncError = DeployError(f"{connector.name}: {status.describe()}")
            failed = self._failed(connector, push_id, error, session)
            self.store.set_pending_deploy(connector.name, None)
            return failed
        try:
            self._verify(connector, sha256, session, None)
        except SfsyncError as error:
            failed = self._failed(connector, push_id, error, session)
            self.store.set_pending_deploy(connector.name, None)
            return failed
        self.store.finish_push(push_id, resource_id=None, now=self.clock())  # forgets the deploy
        self._prune(connector)
        return PushOutcome(Result.PUSHED, f"{sha256[:12]} is live (deploy {status.deploy_id})")

    # Kept builds -----------------------------------------------------------------------------

    def _prune(self, connector: Connector) -> None:
        """Keep the newest `keep_packages` builds and the live one; forget the rest."""
        builds = self.store.builds(connector.name)
        keep = {build.sha256 for build in builds[: self.keep_packages]}
        live = self.store.connector(connector.name).live_sha256
        if live is not None:
            keep.add(live)
        for sha256 in self.archive.prune(connector.name, keep):
            self.store.forget_build(connector.name, sha256)
        for build in builds:
            if build.sha256 not in keep:
                self.store.forget_build(connector.name, build.sha256)
