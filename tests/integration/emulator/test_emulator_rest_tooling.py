"""REST and Tooling StaticResource sobjects and queries, driven by simple-salesforce."""

from __future__ import annotations

import base64
import hashlib

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from tests.integration.emulator.emulator_helpers import API, error_json

QUERY = "SELECT Id, Name, BodyLength, ContentType, CacheControl, SystemModstamp FROM StaticResource"


def _payload(name: str, body: bytes, **extra: str) -> dict[str, str]:
    """Return a StaticResource create body."""
    return {
        "Name": name,
        "ContentType": "application/zip",
        "Body": base64.b64encode(body).decode(),
        "CacheControl": "Public",
        **extra,
    }


def test_tooling_create_query_update_and_body(sf, org, site_zip):
    """Tooling create answers 201 with warnings; query, PATCH and Body behave as FACTS 2 says."""
    created = sf.toolingexecute(
        "sobjects/StaticResource", method="POST", data=_payload("Guide", site_zip)
    )
    assert set(created) == {"id", "success", "errors", "warnings", "infos"}
    record_id = created["id"]
    assert record_id.startswith("081")
    assert len(record_id) == 18
    found = sf.toolingexecute(f"query/?q={QUERY} WHERE Name = 'Guide' AND NamespacePrefix = null")
    assert set(found) == {"size", "totalSize", "done", "queryLocator", "entityTypeName", "records"}
    record = found["records"][0]
    assert record["Id"] == record_id
    assert record["BodyLength"] == len(site_zip)
    assert record["attributes"] == {
        "type": "StaticResource",
        "url": f"/services/data/v64.0/tooling/sobjects/StaticResource/{record_id}",
    }
    assert record["SystemModstamp"].endswith("+0000")
    assert (
        sf.toolingexecute(
            f"sobjects/StaticResource/{record_id}",
            method="PATCH",
            data={"Body": base64.b64encode(b"new").decode()},
        )
        == ""
    )
    body = sf.session.get(
        f"{org.instance_url}{API}/tooling/sobjects/StaticResource/{record_id}/Body",
        headers={"Authorization": f"Bearer {sf.session_id}"},
    )
    assert body.content == b"new"
    stored = org.static_resources["Guide"]
    assert stored.history == [
        hashlib.sha256(site_zip).hexdigest(),
        hashlib.sha256(b"new").hexdigest(),
    ]


def test_rest_query_shape_and_sobject_helpers(sf, site_zip):
    """REST query answers {totalSize, done, records}; SFType create/update/get work."""
    created = sf.StaticResource.create(_payload("Rest1", site_zip, Description="d"))
    assert created["success"] is True
    assert "warnings" not in created
    assert sf.StaticResource.update(created["id"], {"CacheControl": "Private"}) == 204
    record = sf.StaticResource.get(created["id"])
    assert record["CacheControl"] == "Private"
    assert record["Body"].endswith(f"/sobjects/StaticResource/{created['id']}/Body")
    result = sf.query("SELECT Id, Name FROM StaticResource WHERE Name = 'Rest1'")
    assert set(result) == {"totalSize", "done", "records"}
    assert result["totalSize"] == 1
    empty = sf.query("SELECT Id FROM StaticResource WHERE Name = 'Nope' LIMIT 1")
    assert empty == {"totalSize": 0, "done": True, "records": []}
    assert sf.restful(f"sobjects/StaticResource/{created['id']}", method="DELETE") is None
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.StaticResource.get(created["id"])
    assert error_json(missing.value) == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]


@pytest.mark.parametrize("name", ["1abc", "a__b", "ends_", "has space", "dash-name", "_lead"])
def test_name_rules_are_enforced(sf, name):
    """Names must start with a letter, hold letters/digits/underscores, no __, not end with _."""
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.StaticResource.create(_payload(name, b"x"))
    assert error_json(refused.value)[0]["fields"] == ["Name"]


def test_duplicate_name_is_refused(sf):
    """A second resource with the same name (any case) answers 400 DUPLICATE_VALUE."""
    sf.StaticResource.create(_payload("Twice", b"x"))
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.StaticResource.create(_payload("twice", b"y"))
    assert error_json(refused.value)[0]["errorCode"] == "DUPLICATE_VALUE"


def test_five_megabyte_limit(sf):
    """A body of 5,242,880 bytes is stored; one byte more is refused."""
    sf.StaticResource.create(_payload("Max", b"x" * 5_242_880))
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.StaticResource.create(_payload("Over", b"x" * 5_242_881))
    assert error_json(refused.value)[0]["fields"] == ["Body"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"Name": "A", "Bogus": "1"}, "INVALID_FIELD"),
        ({"Name": "A", "BodyLength": 3}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ({"Name": "A"}, "REQUIRED_FIELD_MISSING"),
        (
            {**_payload("A", b"x"), "CacheControl": "public"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
    ],
)
def test_create_field_errors(sf, payload, code):
    """Unknown, read-only, missing and out-of-picklist fields answer their Salesforce codes."""
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.StaticResource.create(payload)
    assert error_json(refused.value)[0]["errorCode"] == code


def test_malformed_json_is_refused(org, http, auth):
    """A body that is not JSON answers 400 JSON_PARSER_ERROR as a list of errors."""
    answer = http.post(
        f"{org.instance_url}{API}/sobjects/StaticResource", data=b"{nope", headers=auth
    )
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT Id FROM Accout", "INVALID_TYPE"),
        ("SELECT Bogus FROM StaticResource", "INVALID_FIELD"),
        ("DELETE everything", "MALFORMED_QUERY"),
    ],
)
def test_query_errors(sf, query, code):
    """Unknown objects, unknown columns and broken SOQL answer their Salesforce codes."""
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query(query)
    assert error_json(refused.value)[0]["errorCode"] == code


def test_invalid_session_is_401(org, http):
    """An unknown token answers 401 INVALID_SESSION_ID; simple-salesforce raises it as expired."""
    sf = Salesforce(instance_url=org.instance_url, session_id="00Dbogus!AQxyz", session=http)
    with pytest.raises(SalesforceExpiredSession) as refused:
        sf.query("SELECT Id FROM StaticResource")
    assert error_json(refused.value) == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_limit_info_header_and_budget(emu, http):
    """Every answer carries Sforce-Limit-Info; a spent budget answers 403 REQUEST_LIMIT_EXCEEDED."""
    org = emu.add_org(name="tight", api_budget=2)
    sf = Salesforce(instance_url=org.instance_url, session_id=org.issue_session()[0], session=http)
    sf.query("SELECT Id FROM StaticResource")
    assert sf.api_usage["api-usage"].used == 1
    assert sf.api_usage["api-usage"].total == 2
    sf.query("SELECT Id FROM StaticResource")
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT Id FROM StaticResource")
    assert error_json(refused.value) == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert org.api_used == 2


def test_scope_without_api_is_refused(org, http):
    """A token without the api scope answers 401 INVALID_SESSION_ID for REST."""
    access, _ = org.issue_session(scope="web")
    answer = http.get(
        f"{org.instance_url}{API}/limits", headers={"Authorization": f"Bearer {access}"}
    )
    assert answer.status_code == 401
    assert answer.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_unknown_sobject_and_path_are_not_found(org, http, auth):
    """Other sobjects and unknown paths answer 404 NOT_FOUND."""
    for path in ("/sobjects/Account/001000000000000AAA", "/nothing/here"):
        answer = http.get(f"{org.instance_url}{API}{path}", headers=auth)
        assert answer.status_code == 404
        assert answer.json()[0]["errorCode"] == "NOT_FOUND"
