"""The Metadata SOAP endpoint: `deploy` and `checkDeployStatus`, routed on the envelope."""

from __future__ import annotations

import base64
import binascii

from werkzeug.wrappers import Request, Response

from sfsync_emulator import soap_xml
from sfsync_emulator.context import Context, session_for
from sfsync_emulator.deploys import production_refusal
from sfsync_emulator.soap_xml import MD_NS, fault, invalid_session_fault

DEPLOY_OPTIONS = (
    "allowMissingFiles",
    "autoUpdatePackage",
    "checkOnly",
    "ignoreWarnings",
    "performRetrieve",
    "purgeOnDelete",
    "rollbackOnError",
    "singlePackage",
    "testLevel",
)


def metadata(ctx: Context, request: Request, **_route: object) -> Response:  # noqa: PLR0911
    """Answer a Metadata API SOAP call, whatever sub-path the client appended."""
    call = soap_xml.parse_envelope(request.get_data())
    if request.method != "POST" or call is None:
        return fault("soapenv:Client", "Unable to parse the SOAP request envelope")  # [U] text
    session = session_for(ctx, call.session_id or "")
    if session is None or ctx.org is None or session.via_jwt:
        # SOAP refuses tokens from the JWT bearer grant (FACTS 0, SPEC 7): same fault as a dead one.
        return invalid_session_fault()
    with ctx.backend.lock:
        spent = ctx.org.spend_api_call()
    if not spent:
        return fault(
            "sf:REQUEST_LIMIT_EXCEEDED", "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."
        )
    if call.operation == "deploy":
        try:
            zip_bytes = base64.b64decode(call.fields.get("ZipFile", ""), validate=True)
        except (binascii.Error, ValueError):
            return fault("soapenv:Client", "ZipFile: invalid base64 value")  # [U] text
        options = {k: call.fields[k] for k in DEPLOY_OPTIONS if call.fields.get(k)}
        refusal = production_refusal(options, production=ctx.org.production)
        if refusal is not None:
            return fault("sf:INVALID_OPERATION", f"INVALID_OPERATION: {refusal}")  # FACTS 3a
        user = next(u for u in ctx.org.users if u.user_id == session.user_id)
        with ctx.backend.lock:
            deploy = ctx.org.deploys.submit(
                zip_bytes, options, ctx.now(), user.user_id, user.display_name
            )
        return soap_xml.deploy_response(deploy)
    if call.operation == "checkDeployStatus":
        with ctx.backend.lock:
            found = ctx.org.deploys.get(call.fields.get("asyncProcessId", ""))
            if found is None:
                return fault("sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: invalid deploy id")  # [U]
            include = call.fields.get("includeDetails", "").lower() == "true"
            return soap_xml.check_status_response(found, include_details=include)
    return fault(
        "soapenv:Client", f"No operation available for request {{{MD_NS}}}{call.operation}"
    )
