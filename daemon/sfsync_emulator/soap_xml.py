"""Metadata API SOAP envelopes: read requests as simple-salesforce sends them, write answers."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET  # test clients' XML; expat refuses bombs  # nosec B405
from xml.sax.saxutils import escape  # escape() writes XML  # nosec B406

from werkzeug.wrappers import Response

from sfsync_emulator import ids
from sfsync_emulator.deploys import Deploy, DeployMessage

ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
MD_NS = "http://soap.sforce.com/2006/04/metadata"
XML_TYPE = "text/xml;charset=UTF-8"


@dataclass(frozen=True)
class SoapCall:
    """One parsed SOAP request: operation name, session id and the operation's fields."""

    operation: str
    session_id: str | None
    fields: dict[str, str]


def parse_envelope(data: bytes) -> SoapCall | None:
    """Return the call in a SOAP envelope, or None when it is not one."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - the emulator reads its own test clients' XML  # nosec B314
    except ET.ParseError:
        return None
    body = root.find(f"{{{ENV_NS}}}Body")
    if body is None or len(body) == 0:
        return None
    operation = body[0]
    session = root.findtext(f"{{{ENV_NS}}}Header/{{{MD_NS}}}SessionHeader/{{{MD_NS}}}sessionId")
    fields: dict[str, str] = {}
    for child in operation.iter():
        if child is not operation and len(child) == 0:
            fields[_local(child.tag)] = (child.text or "").strip()
    return SoapCall(_local(operation.tag), session.strip() if session else None, fields)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def envelope(body_xml: str, status: int = 200) -> Response:
    """Wrap a body in a SOAP envelope with the metadata namespace as default."""
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{ENV_NS}" xmlns="{MD_NS}">'
        f"<soapenv:Body>{body_xml}</soapenv:Body></soapenv:Envelope>"
    )
    return Response(text, status=status, content_type=XML_TYPE)


def fault(code: str, message: str, status: int = 500) -> Response:
    """Return a SOAP fault like the recorded Metadata API ones (HTTP 500, SOAP 1.1)."""
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{ENV_NS}" xmlns:sf="{MD_NS}">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>{escape(code)}</faultcode><faultstring>{escape(message)}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(text, status=status, content_type=XML_TYPE)


def invalid_session_fault() -> Response:
    """Return the fault a Metadata call with a dead or refused session gets."""
    return fault(
        "sf:INVALID_SESSION_ID",
        "INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session. Session"
        " not found, missing session hash: QV/UUg77RuO5dh7c3KiUtr6S7iQWwPOd4B/5YwHJ0WE=\nThis"
        " error usually occurs after a session expires or a user logs out."
        " Decoder: DataInDbSessionKeyDecoder",
    )


def deploy_response(deploy: Deploy) -> Response:
    """Return `deployResponse`: an AsyncResult with done, id and state."""
    state = "Queued" if deploy.status == "Pending" else "InProgress"
    return envelope(
        "<deployResponse><result>"
        f"<done>false</done><id>{deploy.id}</id><state>{state}</state>"
        "</result></deployResponse>"
    )


def _flag(value: object) -> str:
    return "true" if value else "false"


def _message(message: DeployMessage, created: float) -> str:
    parts = [
        f"<changed>{_flag(message.changed)}</changed>",
        f"<componentType>{message.component_type}</componentType>",
        f"<created>{_flag(message.created)}</created>",
        f"<createdDate>{ids.soap_datetime(created)}</createdDate>",
        "<deleted>false</deleted>",
        f"<fileName>{escape(message.file_name)}</fileName>",
        f"<fullName>{escape(message.full_name)}</fullName>",
    ]
    if message.record_id:
        parts.append(f"<id>{message.record_id}</id>")
    if message.problem:
        parts += [
            f"<problem>{escape(message.problem)}</problem>",
            "<problemType>Error</problemType>",
        ]
    parts.append(f"<success>{_flag(message.success)}</success>")
    return "".join(parts)


def check_status_response(deploy: Deploy, *, include_details: bool) -> Response:
    """Return `checkDeployStatusResponse`: a DeployResult in WSDL element order."""
    done_at = deploy.completed_date or deploy.last_modified
    details = ""
    if include_details:
        details = (
            "".join(
                f"<componentFailures>{_message(m, done_at)}</componentFailures>"
                for m in deploy.failures
            )
            + "".join(
                f"<componentSuccesses>{_message(m, done_at)}</componentSuccesses>"
                for m in deploy.successes
            )
            + "<runTestResult><numFailures>0</numFailures><numTestsRun>0</numTestsRun>"
            "<totalTime>0.0</totalTime></runTestResult>"
        )
    parts = [
        f"<checkOnly>{_flag(deploy.options['checkOnly'])}</checkOnly>",
    ]
    if deploy.completed_date is not None:
        parts.append(f"<completedDate>{ids.soap_datetime(deploy.completed_date)}</completedDate>")
    parts += [
        f"<createdBy>{deploy.user_id[:15]}</createdBy>",
        f"<createdByName>{escape(deploy.user_name)}</createdByName>",
        f"<createdDate>{ids.soap_datetime(deploy.submitted)}</createdDate>",
        f"<details>{details}</details>",
        f"<done>{_flag(deploy.done)}</done>",
    ]
    if deploy.plan.error_message and deploy.done:
        parts += [
            f"<errorMessage>{escape(deploy.plan.error_message)}</errorMessage>",
            f"<errorStatusCode>{deploy.error_status_code}</errorStatusCode>",
        ]
    parts += [
        f"<id>{deploy.id}</id>",
        f"<ignoreWarnings>{_flag(deploy.options['ignoreWarnings'])}</ignoreWarnings>",
        f"<lastModifiedDate>{ids.soap_datetime(deploy.last_modified)}</lastModifiedDate>",
        f"<numberComponentErrors>{len(deploy.failures)}</numberComponentErrors>",
        f"<numberComponentsDeployed>{_deployed(deploy)}</numberComponentsDeployed>",
        f"<numberComponentsTotal>{len(deploy.plan.members)}</numberComponentsTotal>",
        "<numberTestErrors>0</numberTestErrors>",
        "<numberTestsCompleted>0</numberTestsCompleted>",
        "<numberTestsTotal>0</numberTestsTotal>",
        f"<rollbackOnError>{_flag(deploy.options['rollbackOnError'])}</rollbackOnError>",
        "<runTestsEnabled>false</runTestsEnabled>",
    ]
    if deploy.start_date is not None:
        parts.append(f"<startDate>{ids.soap_datetime(deploy.start_date)}</startDate>")
    parts += [
        f"<status>{deploy.status}</status>",
        f"<success>{_flag(deploy.success)}</success>",
    ]
    return envelope(
        f"<checkDeployStatusResponse><result>{''.join(parts)}</result></checkDeployStatusResponse>"
    )


def _deployed(deploy: Deploy) -> int:
    return sum(1 for m in deploy.successes if m.component_type)
