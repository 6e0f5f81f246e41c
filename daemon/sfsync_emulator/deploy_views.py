"""The Metadata REST deploy resource: POST a ZIP as multipart, GET the DeployResult as JSON."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

from sfsync_emulator import ids
from sfsync_emulator.context import Context, api_call, bearer_token
from sfsync_emulator.deploys import Deploy, DeployMessage, production_refusal
from sfsync_emulator.errors import ApiError, not_found
from sfsync_emulator.responses import json_response


def _part(request: Request, name: str) -> bytes | None:
    if name in request.files:
        data: bytes = request.files[name].read()
        return data
    if name in request.form:
        return request.form[name].encode()
    return None


def submit(ctx: Context, request: Request, **_route: object) -> Response:
    """Queue a deploy from the `json` (deployOptions) and `file` (ZIP) multipart parts."""
    session = api_call(ctx, bearer_token(request))
    if request.method != "POST" or ctx.org is None:
        raise ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{request.method}' not allowed. Allowed are POST",
        )
    raw_json, zip_bytes = _part(request, "json"), _part(request, "file")
    if zip_bytes is None:
        # [U] the error for a deploy request with no ZIP part was not found.
        raise ApiError(400, "INVALID_INPUT", "Missing the zip file part named 'file'")
    options = _deploy_options(raw_json)
    # [U] the REST resource's answer to NoTestRun in production was not found: here the deploy
    # is created (201) and ends Failed with the SOAP fault's code and text, changing nothing.
    refusal = production_refusal(options, production=ctx.org.production)
    with ctx.backend.lock:
        user = next(u for u in ctx.org.users if u.user_id == session.user_id)
        deploy = ctx.org.deploys.submit(
            zip_bytes, options, ctx.now(), user.user_id, user.display_name, refusal=refusal
        )
        body = _request_body(deploy, include_details=False)
    return json_response(body, 201)


def _deploy_options(raw_json: bytes | None) -> dict[str, Any]:
    try:
        payload = json.loads(raw_json or b"{}")
    except ValueError:
        payload = None
    options = payload.get("deployOptions", {}) if isinstance(payload, dict) else None
    if not isinstance(options, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Invalid deployOptions JSON")
    return options


def status(ctx: Context, request: Request, deploy_id: str, **_route: object) -> Response:
    """Answer `GET .../deployRequest/{id}[?includeDetails=true]`."""
    api_call(ctx, bearer_token(request))
    if ctx.org is None:
        raise not_found()
    with ctx.backend.lock:
        deploy = ctx.org.deploys.get(deploy_id)
        if deploy is None:
            raise not_found()
        include = request.args.get("includeDetails", "").lower() == "true"
        return json_response(_request_body(deploy, include_details=include))


def _request_body(deploy: Deploy, *, include_details: bool) -> dict[str, Any]:
    return {
        "id": deploy.id,
        "validatedDeployRequestId": None,
        "deployOptions": deploy.options,
        "deployResult": deploy_result(deploy, include_details=include_details),
    }


def _date(value: float | None) -> str | None:
    return ids.sf_datetime(value) if value is not None else None


def _message(message: DeployMessage, at: float) -> dict[str, Any]:
    return {
        "changed": message.changed,
        "columnNumber": None,
        "componentType": message.component_type,
        "created": message.created,
        "createdDate": ids.sf_datetime(at),
        "deleted": False,
        "fileName": message.file_name,
        "fullName": message.full_name,
        "id": message.record_id,
        "lineNumber": None,
        "problem": message.problem,
        "problemType": "Error" if message.problem else None,
        "success": message.success,
    }


def deploy_result(deploy: Deploy, *, include_details: bool) -> dict[str, Any]:
    """Return a DeployResult as the REST resource renders it (FACTS 3b fields)."""
    at = deploy.completed_date or deploy.last_modified
    details = None
    if include_details:
        details = {
            "componentFailures": [_message(m, at) for m in deploy.failures],
            "componentSuccesses": [_message(m, at) for m in deploy.successes],
            "retrieveResult": None,
            "runTestResult": {"numFailures": 0, "numTestsRun": 0, "totalTime": 0.0},
        }
    error_message = deploy.plan.error_message if deploy.done else None
    return {
        "id": deploy.id,
        "canceledBy": None,
        "canceledByName": None,
        "checkOnly": bool(deploy.options["checkOnly"]),
        "completedDate": _date(deploy.completed_date),
        "createdBy": deploy.user_id[:15],
        "createdByName": deploy.user_name,
        "createdDate": ids.sf_datetime(deploy.submitted),
        "details": details,
        "done": deploy.done,
        "errorMessage": error_message,
        "errorStatusCode": deploy.error_status_code if error_message else None,
        "ignoreWarnings": bool(deploy.options["ignoreWarnings"]),
        "lastModifiedDate": ids.sf_datetime(deploy.last_modified),
        "numberComponentErrors": len(deploy.failures),
        "numberComponentsDeployed": sum(1 for m in deploy.successes if m.component_type),
        "numberComponentsTotal": len(deploy.plan.members),
        "numberTestErrors": 0,
        "numberTestsCompleted": 0,
        "numberTestsTotal": 0,
        "rollbackOnError": bool(deploy.options["rollbackOnError"]),
        "runTestsEnabled": False,
        "startDate": _date(deploy.start_date),
        "stateDetail": None,
        "status": deploy.status,
        "success": deploy.success,
    }
