"""The Metadata API's part of a push: deploy the Static Resource, wait for the deploy within
the patience, and say how an ended deploy went. The HTTP calls are `salesforce.metadata`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sfsync.config import Connector
from sfsync.errors import DeployError
from sfsync.package.build import BuiltPackage
from sfsync.salesforce.deploy_zip import deploy_zip
from sfsync.salesforce.metadata import DeployStatus, MetadataClient
from sfsync.sync.tooling_push import Attempts


@dataclass(frozen=True)
class MetadataDeploy:
    """One connector's deploys through one session's Metadata client."""

    client: MetadataClient
    connector: Connector
    retrying: Attempts
    writing: Attempts
    patience_seconds: float
    sleep: Callable[[float], None] = time.sleep

    def start(self, built: BuiltPackage, description: str, api_version: str) -> str:
        """Given a build, ask the org to deploy it as the connector's resource; return the
        deploy's id.
        """
        archive = deploy_zip(
            self.connector.resource,
            built.data,
            cache_control=self.connector.cache_control,
            description=description,
            api_version=api_version,
        )
        return self.writing(lambda: self.client.start_deploy(archive))

    def wait(self, deploy_id: str) -> DeployStatus:
        """Given a deploy's id, poll it until it ends or the patience runs out; return the last
        status seen.
        """
        return self.client.wait(
            deploy_id,
            patience_seconds=self.patience_seconds,
            sleep=self.sleep,
            retrying=self.retrying,
        )

    def status(self, deploy_id: str) -> DeployStatus:
        """Given a deploy's id, return where it stands now (one poll, retried)."""
        return self.retrying(lambda: self.client.deploy_status(deploy_id))


def deploy_failure(connector: Connector, status: DeployStatus) -> DeployError | None:
    """Given an ended deploy, return why it failed, or None when it succeeded."""
    if status.success:
        return None
    return DeployError(f"{connector.name}: {status.describe()}")
