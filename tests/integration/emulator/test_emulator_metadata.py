"""Metadata deploys: the REST deployRequest resource and SOAP deploy/checkDeployStatus."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceGeneralError

from sfsync_emulator import Emulator, OrgHandle
from tests.integration.emulator.emulator_helpers import (
    API,
    CLIENT_ID,
    build_zip,
    deploy_zip,
    package_xml,
    resource_meta,
)

FINAL = ("Succeeded", "SucceededPartial", "Failed")


def _submit(
    org, http: requests.Session, auth, zip_bytes: bytes, **options: object
) -> requests.Response:
    """POST a multipart deploy request the way CumulusCI's rest_deploy does."""
    parts: dict[str, tuple[str | None, str | bytes, str]] = {
        "json": (None, json.dumps({"deployOptions": options}), "application/json"),
        "file": ("deploy.zip", zip_bytes, "application/zip"),
    }
    return http.post(f"{org.instance_url}{API}/metadata/deployRequest", files=parts, headers=auth)


def _wait(org, http, auth, deploy_id: str) -> tuple[dict[str, Any], list[str]]:
    """Poll a deploy until done; return its last answer and every status seen."""
    seen: list[str] = []
    for _ in range(100):
        answer = http.get(
            f"{org.instance_url}{API}/metadata/deployRequest/{deploy_id}",
            params={"includeDetails": "true"},
            headers=auth,
        )
        assert answer.status_code == 200
        result = answer.json()["deployResult"]
        seen.append(result["status"])
        if result["done"]:
            return answer.json(), seen
        time.sleep(0.03)
    raise AssertionError(f"deploy {deploy_id} never finished: {seen}")


def test_rest_deploy_single_package_false_succeeds(org, http, auth, site_zip):
    """A REST deploy (one top folder, singlePackage false) goes Pending, InProgress, Succeeded."""
    answer = _submit(
        org, http, auth, deploy_zip({"Guide": site_zip}, prefix="metadata/"), singlePackage=False
    )
    assert answer.status_code == 201
    assert answer.headers["Sforce-Limit-Info"].startswith("api-usage=")
    created = answer.json()
    assert created["id"].startswith("0Af")
    assert {"id", "deployOptions", "deployResult"} <= set(created)
    assert created["deployResult"]["status"] == "Pending"
    final, seen = _wait(org, http, auth, created["id"])
    assert "InProgress" in seen
    result = final["deployResult"]
    assert result["status"] == "Succeeded"
    assert result["success"] is True
    assert result["numberComponentsTotal"] == 1
    assert result["numberComponentsDeployed"] == 1
    assert result["numberComponentErrors"] == 0
    names = {m["fullName"] for m in result["details"]["componentSuccesses"]}
    assert names == {"Guide", "package.xml"}
    assert org.static_resources["Guide"].body == site_zip
    assert org.static_resources["Guide"].cache_control == "Public"


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"Big": b"x" * 5_242_881}, "static resource cannot exceed 5MB"),
        ({"bad__name": b"x"}, "underscores"),
    ],
)
def test_rest_deploy_component_failures(org, http, auth, files, problem):
    """An oversized resource or a bad name fails the deploy with a component failure."""
    created = _submit(org, http, auth, deploy_zip(files)).json()
    final, _ = _wait(org, http, auth, created["id"])
    result = final["deployResult"]
    assert result["status"] == "Failed"
    assert result["success"] is False
    failure = result["details"]["componentFailures"][0]
    assert problem in failure["problem"]
    assert failure["problemType"] == "Error"
    assert failure["componentType"] == "StaticResource"
    assert org.static_resources == {}


def test_rest_deploy_without_package_xml_fails(org, http, auth):
    """A ZIP with no package.xml (or one in the wrong place) fails with 'No package.xml found'."""
    for zip_bytes in (
        build_zip({"staticresources/A.resource": b"x"}),
        deploy_zip({"A": b"x"}, prefix="src/"),
    ):
        created = _submit(org, http, auth, zip_bytes, singlePackage=True).json()
        result = _wait(org, http, auth, created["id"])[0]["deployResult"]
        assert result["status"] == "Failed"
        assert result["details"]["componentFailures"][0]["problem"] == "No package.xml found"


def test_rest_deploy_missing_member_and_rollback(org, http, auth):
    """A member named but absent fails; with rollbackOnError nothing else is applied."""
    zip_bytes = build_zip(
        {
            "package.xml": package_xml("Good", "Missing"),
            "staticresources/Good.resource": b"ok",
            "staticresources/Good.resource-meta.xml": resource_meta(),
        }
    )
    created = _submit(org, http, auth, zip_bytes, rollbackOnError=True).json()
    result = _wait(org, http, auth, created["id"])[0]["deployResult"]
    assert result["status"] == "Failed"
    assert (
        "was named in package.xml, but was not found"
        in result["details"]["componentFailures"][0]["problem"]
    )
    assert org.static_resources == {}
    partial = _submit(org, http, auth, zip_bytes, rollbackOnError=False).json()
    assert _wait(org, http, auth, partial["id"])[0]["deployResult"]["status"] == "SucceededPartial"
    assert set(org.static_resources) == {"Good"}


def test_deploys_queue_and_apply_atomically_at_completion():
    """One deploy runs at a time, others wait Pending; changes land only when a deploy completes."""
    now = [1_800_000_000.0]
    with Emulator(clock=lambda: now[0]) as emu:
        emu.register_client(CLIENT_ID, [])
        org = emu.add_org(name="queue", deploy_seconds=3.0)
        auth = {"Authorization": f"Bearer {org.issue_session()[0]}"}
        with requests.Session() as http:
            http.verify = str(emu.ca_path)
            first = _submit(org, http, auth, deploy_zip({"One": b"1"})).json()["id"]
            second = _submit(org, http, auth, deploy_zip({"Two": b"2"})).json()["id"]
            now[0] += 1.5
            assert _status(org, first) == "InProgress"
            assert _status(org, second) == "Pending"
            assert org.static_resources == {}
            now[0] += 2.0
            assert _status(org, first) == "Succeeded"
            assert _status(org, second) == "Pending"
            assert set(org.static_resources) == {"One"}
            now[0] += 1.5
            assert _status(org, second) == "InProgress"
            now[0] += 2.0
            assert set(org.static_resources) == {"One", "Two"}


def test_unknown_deploy_id_is_not_found(org, http, auth):
    """Polling an unknown deploy id answers 404 NOT_FOUND."""
    answer = http.get(
        f"{org.instance_url}{API}/metadata/deployRequest/0Af000000000000AAA", headers=auth
    )
    assert answer.status_code == 404
    assert answer.json()[0]["errorCode"] == "NOT_FOUND"


def _soap_client(org, http, token: str) -> Salesforce:
    """A fresh simple-salesforce client (its SOAP calls taint the shared headers)."""
    return Salesforce(instance_url=org.instance_url, session_id=token, session=http, version="64.0")


def _status(org: OrgHandle, deploy_id: str) -> str:
    """Return the status of a deploy the org knows."""
    deploy = org.deploy(deploy_id)
    assert deploy is not None, f"the org knows no deploy {deploy_id}"
    return deploy.status


def _soap_wait(sf: Salesforce, async_id: str | None) -> dict[str, Any]:
    """Poll checkDeployStatus until a final state."""
    assert async_id is not None, "the deploy answered no asyncId"
    for _ in range(100):
        status = sf.checkDeployStatus(async_id)
        if status["state"] in FINAL:
            return status
        time.sleep(0.03)
    raise AssertionError("SOAP deploy never finished")


def test_soap_deploy_and_check_status_with_simple_salesforce(org, http, token, site_zip):
    """sf.deploy returns asyncId/state and sf.checkDeployStatus reports Succeeded with counts."""
    sf = _soap_client(org, http, token)
    started = sf.deploy(io.BytesIO(deploy_zip({"Guide": site_zip})), sandbox=True)
    assert (started["asyncId"] or "").startswith("0Af")
    assert started["state"] == "Queued"
    status = _soap_wait(sf, started["asyncId"])
    assert status["state"] == "Succeeded"
    assert status["deployment_detail"]["total_count"] == "1"
    assert status["deployment_detail"]["deployed_count"] == "1"
    assert status["deployment_detail"]["errors"] == []
    assert org.static_resources["Guide"].body == site_zip
    assert (
        org.count(api="soap", method="POST", path_prefix="/services/Soap/m/64.0/deployRequest") >= 2
    )


def test_soap_deploy_failure_lists_errors(org, http, token):
    """A failing SOAP deploy reports Failed with the component errors simple-salesforce parses."""
    sf = _soap_client(org, http, token)
    started = sf.deploy(io.BytesIO(deploy_zip({"Big": b"x" * 5_242_881})), sandbox=False)
    status = _soap_wait(sf, started["asyncId"])
    assert status["state"] == "Failed"
    assert status["deployment_detail"]["errors"] == [
        {
            "type": "StaticResource",
            "file": "staticresources/Big.resource",
            "status": "Error",
            "message": "static resource cannot exceed 5MB",
        }
    ]


def test_soap_faults_for_dead_and_jwt_sessions(emu, org, http, token):
    """SOAP answers a 500 INVALID_SESSION_ID fault for a dead token and for a JWT-grant token."""
    dead = _soap_client(org, http, "00Dbogus!AQnothing")
    with pytest.raises(SalesforceGeneralError) as refused:
        dead.deploy(io.BytesIO(deploy_zip({"A": b"x"})), sandbox=True)
    assert refused.value.status == 500
    assert "sf:INVALID_SESSION_ID" in str(refused.value.content)
    with emu.backend.lock:
        grant = emu.backend.tokens.issue(
            org.org_id, org.default_user.user_id, CLIENT_ID, "api", with_refresh=False, via_jwt=True
        )
    jwt_client = _soap_client(org, http, grant.access.token)
    with pytest.raises(SalesforceGeneralError):
        jwt_client.deploy(io.BytesIO(deploy_zip({"A": b"x"})), sandbox=True)
    rest = _submit(
        org, http, {"Authorization": f"Bearer {grant.access.token}"}, deploy_zip({"A": b"x"})
    )
    assert rest.status_code == 201


def test_soap_unknown_operation_and_garbage(org, http, token):
    """An unsupported operation or a non-SOAP body answers a soapenv:Client fault."""
    envelope = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:met="http://soap.sforce.com/2006/04/metadata"><soapenv:Header><met:SessionHeader>'
        f"<met:sessionId>{token}</met:sessionId></met:SessionHeader></soapenv:Header>"
        "<soapenv:Body><met:retrieve/></soapenv:Body></soapenv:Envelope>"
    )
    url = f"{org.instance_url}/services/Soap/m/64.0/{org.org_id[:15]}"
    answer = http.post(
        url, data=envelope, headers={"Content-Type": "text/xml", "SOAPAction": "retrieve"}
    )
    assert answer.status_code == 500
    assert "No operation available" in answer.text
    garbage = http.post(url, data=b"not xml", headers={"Content-Type": "text/xml"})
    assert garbage.status_code == 500
    assert "soapenv:Client" in garbage.text
