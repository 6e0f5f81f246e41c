"""Metadata deploys of one org: a queue that runs one deploy at a time, applied atomically."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sfsync_emulator import ids
from sfsync_emulator.deploy_zip import DeployPlan, read_deploy_zip
from sfsync_emulator.resources import ResourceStore

OPTION_DEFAULTS: dict[str, Any] = {
    "allowMissingFiles": False,
    "autoUpdatePackage": False,
    "checkOnly": False,
    "ignoreWarnings": False,
    "performRetrieve": False,
    "purgeOnDelete": False,
    "rollbackOnError": True,
    "runTests": [],
    "singlePackage": True,
    "testLevel": None,
}

# FACTS 3a [C]: a production org refuses NoTestRun whatever the package holds.
NO_TEST_RUN_IN_PRODUCTION = "testLevel of NoTestRun cannot be used in production organizations"


def production_refusal(raw_options: dict[str, Any], *, production: bool) -> str | None:
    """Return why a production org refuses these deploy options, or None if it takes them."""
    if production and str(raw_options.get("testLevel") or "").strip() == "NoTestRun":
        return NO_TEST_RUN_IN_PRODUCTION
    return None


@dataclass
class DeployMessage:
    """One `componentSuccesses` or `componentFailures` entry."""

    file_name: str
    full_name: str
    component_type: str
    success: bool
    created: bool = False
    changed: bool = False
    record_id: str | None = None
    problem: str | None = None


@dataclass
class Deploy:
    """One deploy request and, once run, its DeployResult."""

    id: str
    options: dict[str, Any]
    plan: DeployPlan
    submitted: float
    user_id: str
    user_name: str
    status: str = "Pending"
    start_date: float | None = None
    completed_date: float | None = None
    successes: list[DeployMessage] = field(default_factory=list)
    failures: list[DeployMessage] = field(default_factory=list)
    error_status_code: str = "UNKNOWN_EXCEPTION"  # reported with the plan's error_message

    @property
    def done(self) -> bool:
        """Return whether the deploy reached a final state."""
        return self.completed_date is not None

    @property
    def success(self) -> bool:
        """Return whether the deploy succeeded (fully or partly)."""
        return self.status in ("Succeeded", "SucceededPartial")

    @property
    def last_modified(self) -> float:
        """Return when the deploy last changed state."""
        return self.completed_date or self.start_date or self.submitted


def normalize_options(raw: dict[str, Any]) -> dict[str, Any]:
    """Fill DeployOptions defaults; accept `"true"`/`"False"` strings as SOAP clients send them."""
    options = dict(OPTION_DEFAULTS)
    for key, value in raw.items():
        default = OPTION_DEFAULTS.get(key)
        if isinstance(default, bool) and isinstance(value, str):
            options[key] = value.strip().lower() == "true"
        else:
            options[key] = value
    return options


class DeployQueue:
    """Deploys of one org in arrival order; state advances with the clock, lazily."""

    def __init__(self, deploy_seconds: float) -> None:
        self.deploy_seconds = deploy_seconds
        self._deploys: list[Deploy] = []

    def submit(
        self,
        zip_bytes: bytes,
        raw_options: dict[str, Any],
        now: float,
        user_id: str,
        user_name: str,
        *,
        refusal: str | None = None,
    ) -> Deploy:
        """Queue a deploy; its ZIP is read now, its changes apply when it completes.

        With a `refusal` the deploy changes nothing and ends Failed with INVALID_OPERATION.
        """
        options = normalize_options(raw_options)
        plan = read_deploy_zip(zip_bytes, single_package=bool(options["singlePackage"]))
        deploy = Deploy(ids.new_id("0Af"), options, plan, now, user_id, user_name)
        if refusal is not None:
            deploy.plan = dataclasses.replace(
                plan, components=(), problems=(), error_message=refusal
            )
            deploy.error_status_code = "INVALID_OPERATION"
        self._deploys.append(deploy)
        return deploy

    def get(self, deploy_id: str) -> Deploy | None:
        """Return the deploy with this 15- or 18-character id, or None."""
        for deploy in self._deploys:
            if deploy_id in (deploy.id, deploy.id[:15]):
                return deploy
        return None

    def advance(self, now: float, store: ResourceStore) -> None:
        """Move deploys along: one runs at a time, each for `deploy_seconds`, the rest wait."""
        previous_end = 0.0
        for deploy in self._deploys:
            if deploy.completed_date is not None:
                previous_end = deploy.completed_date
                continue
            eligible = max(deploy.submitted, previous_end)
            start = eligible + self.deploy_seconds / 3
            end = eligible + self.deploy_seconds
            if now >= end:
                deploy.start_date = start
                _finish(deploy, end, store)
                previous_end = end
                continue
            if now >= start:
                deploy.status = "InProgress"
                deploy.start_date = start
            return


def _finish(deploy: Deploy, at: float, store: ResourceStore) -> None:
    plan = deploy.plan
    deploy.failures = [
        DeployMessage(
            problem.file_name,
            problem.full_name,
            problem.component_type,
            success=False,
            problem=problem.problem,
        )
        for problem in plan.problems
    ]
    failed = bool(deploy.failures) or plan.error_message is not None
    rollback = bool(deploy.options["rollbackOnError"])
    apply = not deploy.options["checkOnly"] and not (failed and rollback)
    if not (failed and rollback):
        for component in plan.components:
            existing = store.find(component.full_name)
            record_id = existing.id if existing is not None else None
            if apply:
                fields = {
                    "Name": component.full_name,
                    "Body": component.body,
                    "ContentType": component.content_type,
                    "CacheControl": component.cache_control,
                    "Description": component.description,
                }
                if existing is None:
                    record_id = store.create(fields, at, deploy.user_id).id
                elif existing.sha256 != _sha(component.body) or _meta_changed(existing, fields):
                    store.update(existing.id, fields, at)
            deploy.successes.append(
                DeployMessage(
                    component.file_name,
                    component.full_name,
                    "StaticResource",
                    success=True,
                    created=existing is None,
                    changed=True,
                    record_id=record_id,
                )
            )
        deploy.successes.append(
            DeployMessage("package.xml", "package.xml", "", success=True, changed=True)
        )
    if not failed:
        deploy.status = "Succeeded"
    elif plan.components and not rollback:
        deploy.status = "SucceededPartial"
    else:
        deploy.status = "Failed"
    deploy.completed_date = at


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _meta_changed(existing: Any, fields: dict[str, Any]) -> bool:
    return bool(
        existing.content_type != fields["ContentType"]
        or existing.cache_control != fields["CacheControl"]
        or existing.description != fields["Description"]
    )
