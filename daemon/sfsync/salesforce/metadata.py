"""Deploying through the Metadata API's REST deploy resource (FACTS.md section 3a).

simple-salesforce offers only the SOAP `deploy`, which refuses JWT-issued tokens and leaves SOAP
headers on the client for later REST calls (FACTS.md section 3c), so this module speaks the
REST resource (`POST .../metadata/deployRequest`, multipart) through the connector's session.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from sfsync.errors import ApiError
from sfsync.salesforce.limits import ApiUsage, parse_limit_info
from sfsync.salesforce.retry import TransientApiError
from sfsync.salesforce.session import ConnectorSession

_CREATED = 201
_OK = 200
_SERVER_ERROR = 500
_NOT_FOUND = 404
_TERMINAL = frozenset({"Succeeded", "SucceededPartial", "Failed", "Canceled"})


@dataclass(frozen=True)
class DeployStatus:
    """Where a deploy stands; `failures` holds Salesforce's component problems verbatim."""

    deploy_id: str
    status: str
    done: bool
    success: bool
    failures: tuple[str, ...]
    error_message: str | None

    def describe(self) -> str:
        """Return the deploy's outcome as one line for logs and `last_error`."""
        problems = list(self.failures)
        if self.error_message:
            problems.insert(0, self.error_message)
        detail = "; ".join(problems) if problems else "no details"
        return f"deploy {self.deploy_id} {self.status}: {detail}"


def parse_deploy_result(deploy_id: str, body: dict[str, Any]) -> DeployStatus:
    """Given a deployRequest answer, return the deploy's status."""
    result = body.get("deployResult") or {}
    status = str(result.get("status") or "Pending")
    details = result.get("details") or {}
    raw_failures = details.get("componentFailures") or []
    if isinstance(raw_failures, dict):  # one failure comes as an object, several as a list
        raw_failures = [raw_failures]
    failures = tuple(
        f"{failure.get('componentType') or 'component'} {failure.get('fullName', '')}: "
        f"{failure.get('problem', '')}".strip()
        for failure in raw_failures
        if isinstance(failure, dict)
    )
    done = bool(result.get("done")) or status in _TERMINAL
    return DeployStatus(
        deploy_id=deploy_id,
        status=status,
        done=done,
        success=bool(result.get("success")) and status == "Succeeded",
        failures=failures,
        error_message=result.get("errorMessage"),
    )


def _once(poll: Callable[[], DeployStatus]) -> DeployStatus:
    return poll()


class MetadataClient:
    """Start one org's deploys and follow them."""

    def __init__(
        self, session: ConnectorSession, on_usage: Callable[[ApiUsage], None] | None = None
    ) -> None:
        self._session = session
        self._on_usage = on_usage
        self._base = f"/services/data/v{session.api_version}/metadata/deployRequest"

    def _checked(self, action: str, response: requests.Response, expected: int) -> Any:
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is not None and self._on_usage is not None:
            self._on_usage(usage)
        if response.status_code == expected:
            return response.json()
        text = f"{self._session.connector}: {action} failed: HTTP {response.status_code}"
        try:
            errors = response.json()
            first = errors[0] if isinstance(errors, list) else errors
            text += f" {first.get('errorCode', '')}: {first.get('message', '')}"
        except (ValueError, AttributeError, IndexError, KeyError):
            text += f": {response.text[:300]}"
        limited = "REQUEST_LIMIT_EXCEEDED" in text
        if response.status_code == _NOT_FOUND:
            # A deploy id unknown under an API version the org does not serve is no answer
            # about the deploy (SPEC section 7).
            self._session.require_api_version()
        if response.status_code >= _SERVER_ERROR or limited:
            raise TransientApiError(text)
        raise ApiError(text)

    def start_deploy(self, deploy_zip_bytes: bytes) -> str:
        """Given a deploy ZIP, start the deploy; return its id (0Af...)."""
        options = {
            "deployOptions": {
                "singlePackage": True,
                "rollbackOnError": True,
                "checkOnly": False,
                "ignoreWarnings": False,
                "allowMissingFiles": False,
                # No testLevel: a production org refuses NoTestRun whatever the package holds
                # (FACTS 3a); left out, the org decides, and a deploy without Apex runs no tests.
            }
        }
        files = {
            "json": (None, json.dumps(options), "application/json"),
            "file": ("deploy.zip", deploy_zip_bytes, "application/zip"),
        }
        response = self._session.request("POST", self._base, files=files)
        answer = self._checked("Metadata deploy", response, _CREATED)
        deploy_id = answer.get("id") if isinstance(answer, dict) else None
        if not deploy_id:
            raise ApiError(f"{self._session.connector}: deploy answered without an id")
        return str(deploy_id)

    def deploy_status(self, deploy_id: str) -> DeployStatus:
        """Given a deploy id, return where it stands (one API call)."""
        response = self._session.request(
            "GET", f"{self._base}/{deploy_id}", params={"includeDetails": "true"}
        )
        answer = self._checked(f"status of deploy {deploy_id}", response, _OK)
        return parse_deploy_result(deploy_id, answer if isinstance(answer, dict) else {})

    def wait(
        self,
        deploy_id: str,
        *,
        patience_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        retrying: Callable[[Callable[[], DeployStatus]], DeployStatus] = _once,
    ) -> DeployStatus:
        """Given a deploy id, poll with backoff (0.5 s doubling to 8 s) until it is done or
        `patience_seconds` pass; return the last status seen, done or not. Each poll goes
        through `retrying`, so one lost answer does not end the wait.
        """
        deadline = monotonic() + patience_seconds
        delay = 0.5
        while True:
            status = retrying(lambda: self.deploy_status(deploy_id))
            if status.done or monotonic() + delay > deadline:
                return status
            sleep(delay)
            delay = min(delay * 2, 8.0)
