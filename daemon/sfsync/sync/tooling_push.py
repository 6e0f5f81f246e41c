"""The Tooling API's part of a push: find or create the connector's Static Resource, replace its
body, and read back what the org serves. The HTTP calls are `salesforce.tooling`'s; this module
decides which to make, and learns the resource's Id for the pusher to record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sfsync.config import Connector
from sfsync.package.build import BuiltPackage
from sfsync.salesforce.tooling import DuplicateResourceError, ResourceNotFoundError, ToolingClient

T = TypeVar("T")


class Attempts(Protocol):
    """Runs one API call, retrying what may be retried (and, for a write, noting doubt)."""

    def __call__(self, operation: Callable[[], T]) -> T:
        """Given a call, run it until it succeeds or the attempts are spent; return its answer."""
        ...


@dataclass
class ResourceId:
    """The connector's Static Resource Id as a push learns it: the stored one to begin with,
    forgotten when the org no longer has it, replaced when it is found or created.
    """

    value: str | None
    stored: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.stored = self.value

    @property
    def changed(self) -> bool:
        """Return whether the Id differs from the stored one (so the store must learn it)."""
        return self.value != self.stored


@dataclass(frozen=True)
class ToolingPush:
    """One connector's Static Resource through one session's Tooling client."""

    client: ToolingClient
    connector: Connector
    retrying: Attempts
    writing: Attempts

    def write(self, built: BuiltPackage, description: str, resource: ResourceId) -> str:
        """Given a build and the Id known so far, make it the resource's body (a PATCH of the
        known resource, or find-or-create by name); return the resource's Id.
        """
        if resource.value is not None:
            try:
                self._update(resource.value, built, description)
            except ResourceNotFoundError:
                # Deleted in the org since the last push: forget the Id and find or create anew.
                resource.value = None
            else:
                return resource.value
        return self._find_or_create(built, description, resource)

    def read_body(self, resource: ResourceId) -> bytes | None:
        """Given the Id known so far, return the body the org serves for the resource (looked
        up by name when the Id is not known or no longer exists), or None when the org has no
        such resource.
        """
        if resource.value is not None:
            known = resource.value
            try:
                return self.retrying(lambda: self.client.download_body(known))
            except ResourceNotFoundError:
                # Deleted (or recreated) in the org since: forget the Id, look it up by name.
                resource.value = None
        found = self.retrying(lambda: self.client.find_resource(self.connector.resource))
        if found is None:
            return None
        resource.value = found.id
        return self.retrying(lambda: self.client.download_body(found.id))

    def _find_or_create(self, built: BuiltPackage, description: str, resource: ResourceId) -> str:
        name = self.connector.resource
        found = self.retrying(lambda: self.client.find_resource(name))
        if found is None:
            try:
                created = self.writing(
                    lambda: self.client.create_resource(
                        name,
                        built.pieces,
                        cache_control=self.connector.cache_control,
                        description=description,
                    )
                )
            except DuplicateResourceError:
                # A create that timed out may have succeeded before its retry: find it.
                found = self.retrying(lambda: self.client.find_resource(name))
                if found is None:
                    raise
            else:
                resource.value = created
                return created
        resource.value = found.id
        self._update(found.id, built, description)
        return found.id

    def _update(self, resource_id: str, built: BuiltPackage, description: str) -> None:
        self.writing(
            lambda: self.client.update_body(
                resource_id,
                built.pieces,
                cache_control=self.connector.cache_control,
                description=description,
            )
        )
