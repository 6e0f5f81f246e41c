"""Fidelity: provoke each recorded Salesforce situation and compare status, type, keys and names.

The samples live in ../shared/salesforce/recorded/ (read, never copied into the repo).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import requests
import yaml

from tests.integration.emulator.emulator_helpers import API, CLIENT_ID, build_zip

JSON_TYPE = "application/json;charset=UTF-8"
MD = "{http://soap.sforce.com/2006/04/metadata}"
ENV = "{http://schemas.xmlsoap.org/soap/envelope/}"
DOCUMENTED_TOKEN_EXTRAS = {"scope", "token_type", "refresh_token"}  # FACTS 1a sample keys


def _json(folder: Path, name: str) -> Any:
    """Load a recorded JSON sample."""
    return json.loads((folder / name).read_text())


def _interactions(folder: Path, name: str) -> list[dict[str, Any]]:
    """Load a recorded VCR cassette's interactions (skipping include_file references)."""
    data = yaml.safe_load((folder / name).read_text())
    found = data.get("interactions", [data]) if isinstance(data, dict) else []
    return [item for item in found if isinstance(item, dict) and "response" in item]


def _response_type(interaction: dict[str, Any]) -> str:
    """Return the Content-Type a cassette recorded (its header layout varies)."""
    headers = interaction["response"]["headers"]
    headers = headers.get("Response-Headers", headers)
    return str(headers["Content-Type"][0])


def _composite_body(interaction: dict[str, Any], index: int) -> tuple[int, Any]:
    """Return (status, body) of one composite sub-response."""
    outer = json.loads(interaction["response"]["body"]["string"])
    sub = outer["compositeResponse"][index]
    return int(sub["httpStatusCode"]), sub["body"]


def _names(element: ET.Element) -> set[str]:
    """Return the local names of an element's children."""
    return {child.tag.rsplit("}", 1)[-1] for child in element}


def _xml_result(text: str, response: str) -> ET.Element:
    """Return Envelope/Body/<response>/result of a SOAP answer."""
    root = ET.fromstring(text)  # noqa: S314 - test data
    body = root.find(f"{ENV}Body")
    assert body is not None
    result = body.find(f"{MD}{response}/{MD}result")
    assert result is not None
    return result


def _login(emu, verify: str) -> dict[str, Any]:
    """Run the PKCE web flow with plain requests; return the token answer."""
    verifier = "v" * 64
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    authorize = requests.get(
        f"{emu.login_url}/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": "http://localhost:1717/OAuthCallback",
            "code_challenge": challenge,
        },
        allow_redirects=False,
        verify=verify,
        timeout=10,
    )
    code = re.search(r"code=([^&]+)", authorize.headers["Location"])
    assert code is not None
    answer = requests.post(
        f"{emu.login_url}/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": unquote(code[1]),
            "client_id": CLIENT_ID,
            "redirect_uri": "http://localhost:1717/OAuthCallback",
            "code_verifier": verifier,
        },
        verify=verify,
        timeout=10,
    )
    assert answer.headers["Content-Type"] == JSON_TYPE
    return dict(answer.json())


def test_token_answers_match_recorded_keys(recorded_dir, emu, org, verify):
    """Token and refresh answers hold the recorded keys, plus only FACTS-documented ones."""
    token = _login(emu, verify)
    auth_sample = set(_json(recorded_dir, "restforce__auth_success_response.json"))
    assert auth_sample <= set(token) <= auth_sample | DOCUMENTED_TOKEN_EXTRAS
    refreshed = requests.post(
        f"{emu.login_url}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": CLIENT_ID,
        },
        verify=verify,
        timeout=10,
    ).json()
    refresh_sample = set(_json(recorded_dir, "restforce__refresh_success_response.json"))
    assert refresh_sample <= set(refreshed) <= refresh_sample | {"scope", "token_type"}


def test_oauth_errors_match_recorded(recorded_dir, emu, org, verify):
    """A revoked refresh token answers the recorded invalid_grant body; errors share its keys."""
    _, refresh = org.issue_session(CLIENT_ID)
    emu.faults.revoke_refresh_tokens()
    answer = requests.post(
        f"{emu.login_url}/services/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh, "client_id": CLIENT_ID},
        verify=verify,
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == JSON_TYPE
    assert answer.json() == _json(recorded_dir, "restforce__refresh_error_response.json")
    assert set(answer.json()) == set(_json(recorded_dir, "restforce__auth_error_response.json"))


def test_rest_errors_match_recorded(recorded_dir, org, http, auth, sf):
    """Expired session, unknown column, read-only field and not-found answers match the samples."""
    dead = http.get(f"{org.instance_url}{API}/limits", headers={"Authorization": "Bearer nope"})
    assert dead.status_code == 401
    assert dead.headers["Content-Type"] == JSON_TYPE
    assert dead.json() == _json(recorded_dir, "restforce__expired_session_response.json")
    url = f"{org.instance_url}{API}/sobjects/StaticResource"
    unknown = http.post(url, json={"AccountNumber": "1"}, headers=auth)
    for sample in (
        "amplabs__rest_error_invalid_field.json",
        "restforce__sobject_write_error_response.json",
    ):
        expected = _json(recorded_dir, sample)
        assert [set(e) for e in unknown.json()] == [set(e) for e in expected]
        assert unknown.json()[0]["errorCode"] == expected[0]["errorCode"]
    assert (
        unknown.json()[0]["message"]
        == "No such column 'AccountNumber' on sobject of type StaticResource"
    )
    read_only = http.post(url, json={"BodyLength": 1}, headers=auth).json()
    sample = _json(recorded_dir, "amplabs__rest_error_invalid_field_for_insert_update.json")
    assert set(read_only[0]) == set(sample[0])
    assert read_only[0]["errorCode"] == sample[0]["errorCode"]
    assert read_only[0]["message"].split(":")[0] == sample[0]["message"].split(":")[0]
    missing = http.get(f"{org.instance_url}{API}/sobjects/Foo", headers=auth)
    (cassette,) = _interactions(recorded_dir, "cumulusci__composite_not_found_error.yaml")
    status, body = _composite_body(cassette, 0)
    assert (missing.status_code, missing.json()) == (status, body)
    assert set(missing.json()[0]) == set(
        _json(recorded_dir, "restforce__sobject_delete_error_response.json")[0]
    )


def test_query_answers_match_recorded(recorded_dir, org, http, auth, create_resource, site_zip):  # noqa: PLR0917
    """REST and Tooling query answers, empty and not, have the recorded shapes and errors."""
    rest = f"{org.instance_url}{API}/query/"
    empty = http.get(rest, params={"q": "SELECT Id FROM StaticResource"}, headers=auth)
    assert empty.json() == _json(recorded_dir, "restforce__sobject_query_empty_response.json")
    create_resource("Fidelity", site_zip)
    found = http.get(rest, params={"q": "SELECT Id, Name FROM StaticResource"}, headers=auth)
    sample = _json(recorded_dir, "restforce__sobject_query_success_response.json")
    assert set(found.json()) == set(sample)
    assert set(found.json()["records"][0]["attributes"]) == set(sample["records"][0]["attributes"])
    count_cassette = _interactions(recorded_dir, "cumulusci__composite_count_simple.yaml")[0]
    assert set(found.json()) == set(_composite_body(count_cassette, 0)[1])
    assert found.headers["Content-Type"] == _response_type(count_cassette)
    tooling = http.get(
        f"{org.instance_url}{API}/tooling/query/",
        params={"q": "SELECT Id, Name FROM StaticResource WHERE NamespacePrefix = null"},
        headers=auth,
    )
    tooling_cassette = _interactions(recorded_dir, "cumulusci__tooling_query_and_runtests.yaml")[0]
    recorded = json.loads(tooling_cassette["response"]["body"]["string"])
    assert tooling.status_code == tooling_cassette["response"]["status"]["code"]
    assert tooling.headers["Content-Type"] == _response_type(tooling_cassette)
    assert list(tooling.json()) == list(recorded)
    assert list(tooling.json()["records"][0]) == list(recorded["records"][0])
    invalid = http.get(rest, params={"q": "select count() from XYZZY"}, headers=auth)
    type_cassette = _interactions(recorded_dir, "cumulusci__composite_invalid_type_error.yaml")[0]
    assert (invalid.status_code, invalid.json()) == _composite_body(type_cassette, 1)
    amp = _json(recorded_dir, "amplabs__rest_error_invalid_type.json")
    accout = http.get(
        rest, params={"q": "SELECT Name,BillingCity,IsDeleted FROM Accout"}, headers=auth
    ).json()
    assert set(accout[0]) == set(amp[0])
    assert accout[0]["message"].split("\n")[-1] == amp[0]["message"].split("\n")[-1]


def test_create_answers_match_recorded(recorded_dir, org, http, auth):
    """REST create answers 201 with the recorded keys."""
    payload = {
        "Name": "Created",
        "ContentType": "text/plain",
        "Body": base64.b64encode(b"x").decode(),
        "CacheControl": "Private",
    }
    created = http.post(
        f"{org.instance_url}{API}/sobjects/StaticResource/", json=payload, headers=auth
    )
    cassette = _interactions(recorded_dir, "cumulusci__sobject_create_and_composite_upsert.yaml")
    post = next(
        i
        for i in cassette
        if i["request"]["method"] == "POST" and i["request"]["uri"].endswith("/sobjects/Account/")
    )
    assert created.status_code == post["response"]["status"]["code"]
    assert created.headers["Content-Type"] == _response_type(post)
    assert set(created.json()) == set(json.loads(post["response"]["body"]["string"]))
    for sample in (
        "amplabs__rest_create_ok.json",
        "restforce__sobject_create_success_response.json",
    ):
        assert set(created.json()) == set(_json(recorded_dir, sample))


def test_soap_answers_match_recorded(recorded_dir, org, http, token):
    """SOAP deploy, checkDeployStatus and session faults carry the recorded element names."""
    deploy = http.post(
        f"{org.instance_url}/services/Soap/m/64.0/deployRequest",
        data=_deploy_envelope(token),
        headers={"Content-Type": "text/xml", "SOAPAction": "deploy"},
    )
    assert deploy.status_code == 200
    assert deploy.headers["Content-Type"] == "text/xml;charset=UTF-8"
    started = _xml_result(deploy.text, "deployResponse")
    sample = (recorded_dir / "metaforce__deploy_in_progress.xml").read_text()
    assert _names(started) <= _names(_xml_result(sample, "deployResponse"))
    async_id = started.findtext(f"{MD}id")
    assert async_id is not None
    status_text = _check_status(org, http, token, async_id)
    result = _xml_result(status_text, "checkDeployStatusResponse")
    old = _xml_result(
        (recorded_dir / "metaforce__check_deploy_status_error_pre_v29.xml").read_text(),
        "checkDeployStatusResponse",
    )
    old_message = old.find(MD + "messages")
    failure = result.find(f"{MD}details/{MD}componentFailures")
    assert old_message is not None
    assert failure is not None
    assert _names(old_message) <= _names(failure)
    problem = MD + "problem"
    assert failure.findtext(problem) == old_message.findtext(problem) == "No package.xml found"
    assert {"id", "success"} <= _names(result)
    dead = http.post(
        f"{org.instance_url}/services/Soap/m/64.0",
        data=_deploy_envelope("00Dbogus!AQx"),
        headers={"Content-Type": "text/xml", "SOAPAction": "deploy"},
    )
    assert dead.status_code == 500
    for name in (
        "amplabs__metadata_soap_fault_invalid_session.xml",
        "metaforce__soap_fault_invalid_session.xml",
    ):
        expected = _fault((recorded_dir / name).read_text())
        ours = _fault(dead.text)
        assert ours.findtext("faultcode") == expected.findtext("faultcode")
        assert _names(ours) <= _names(expected)
    amp = _fault((recorded_dir / "amplabs__metadata_soap_fault_invalid_session.xml").read_text())
    assert _names(_fault(dead.text)) == _names(amp)


def _fault(text: str) -> ET.Element:
    """Return the soapenv:Fault element of a SOAP answer."""
    fault = ET.fromstring(text).find(  # noqa: S314 - test data
        f"{ENV}Body/{ENV}Fault"
    )
    assert fault is not None
    return fault


def _deploy_envelope(token: str) -> str:
    """Return a minimal deploy envelope."""
    zip_b64 = base64.b64encode(build_zip({"x.txt": b"x"})).decode()
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:met="http://soap.sforce.com/2006/04/metadata"><soapenv:Header><met:SessionHeader>'
        f"<met:sessionId>{token}</met:sessionId></met:SessionHeader></soapenv:Header><soapenv:Body>"
        f"<met:deploy><met:ZipFile>{zip_b64}</met:ZipFile><met:DeployOptions>"
        "<met:singlePackage>true</met:singlePackage></met:DeployOptions></met:deploy>"
        "</soapenv:Body></soapenv:Envelope>"
    )


def _check_status(org, http: requests.Session, token: str, async_id: str) -> str:
    """Poll checkDeployStatus over raw SOAP until done; return the last answer's text."""
    envelope = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:met="http://soap.sforce.com/2006/04/metadata"><soapenv:Header><met:SessionHeader>'
        f"<met:sessionId>{token}</met:sessionId></met:SessionHeader></soapenv:Header><soapenv:Body>"
        f"<met:checkDeployStatus><met:asyncProcessId>{async_id}</met:asyncProcessId>"
        "<met:includeDetails>true</met:includeDetails></met:checkDeployStatus>"
        "</soapenv:Body></soapenv:Envelope>"
    )
    for _ in range(100):
        text = http.post(
            f"{org.instance_url}/services/Soap/m/64.0/deployRequest/{async_id}",
            data=envelope,
            headers={"Content-Type": "text/xml", "SOAPAction": "checkDeployStatus"},
        ).text
        if "<done>true</done>" in text:
            return text
        time.sleep(0.03)
    raise AssertionError("deploy never finished")


def test_device_flow_differs_from_github_as_facts_say(recorded_dir, emu, org, verify):
    """Unlike the recorded GitHub device flow: no expires_in, and pending is HTTP 400 not 200."""
    github_start = _interactions(recorded_dir, "NOT_SALESFORCE__github_device_code.yaml")[0]
    github_keys = set(json.loads(github_start["response"]["body"]["string"]))
    start = requests.post(
        f"{emu.login_url}/services/oauth2/token",
        data={"response_type": "device_code", "client_id": CLIENT_ID},
        verify=verify,
        timeout=10,
    )
    assert start.headers["Content-Type"] == JSON_TYPE
    assert set(start.json()) == github_keys - {"expires_in"}
    github_polls = _interactions(recorded_dir, "NOT_SALESFORCE__github_device_token_polling.yaml")
    pending_sample = next(
        i for i in github_polls if "authorization_pending" in i["response"]["body"]["string"]
    )
    pending = requests.post(
        f"{emu.login_url}/services/oauth2/token",
        data={"grant_type": "device", "code": start.json()["device_code"], "client_id": CLIENT_ID},
        verify=verify,
        timeout=10,
    )
    assert pending_sample["response"]["status"]["code"] == 200
    assert pending.status_code == 400
    assert pending.json()["error"] == "authorization_pending"
