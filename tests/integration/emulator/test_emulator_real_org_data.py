"""Issue 13, data side: production deploys, API versions, namespaces, sandbox refresh copies."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceGeneralError

from tests.integration.emulator.emulator_helpers import API, CLIENT_ID, REDIRECT_URI, deploy_zip
from tests.integration.emulator.real_org_helpers import authorize
from tests.integration.emulator.test_emulator_metadata import _submit, _wait

NO_TEST_RUN = "testLevel of NoTestRun cannot be used in production organizations"
NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


@pytest.fixture
def production(emu):
    """A production org with fast deploys."""
    return emu.add_org(name="prod", production=True, deploy_seconds=0.05)


def _auth(org) -> dict[str, str]:
    return {"Authorization": f"Bearer {org.issue_session(CLIENT_ID)[0]}"}


def test_production_refuses_no_test_run(production, http):
    """In production, a REST deploy with NoTestRun ends Failed with INVALID_OPERATION."""
    auth = _auth(production)
    submitted = _submit(production, http, auth, deploy_zip({"Site": b"x"}), testLevel="NoTestRun")
    assert submitted.status_code == 201
    result = _wait(production, http, auth, submitted.json()["id"])[0]["deployResult"]
    assert result["status"] == "Failed"
    assert (result["errorStatusCode"], result["errorMessage"]) == ("INVALID_OPERATION", NO_TEST_RUN)
    assert "Site" not in production.static_resources


def test_production_takes_a_deploy_without_test_level(production, http):
    """In production, leaving testLevel out lets the deploy succeed."""
    auth = _auth(production)
    submitted = _submit(production, http, auth, deploy_zip({"Site": b"x"}))
    result = _wait(production, http, auth, submitted.json()["id"])[0]["deployResult"]
    assert result["status"] == "Succeeded"


def test_sandbox_takes_no_test_run(org, http, auth):
    """A sandbox (production=False) accepts NoTestRun."""
    submitted = _submit(org, http, auth, deploy_zip({"Site": b"x"}), testLevel="NoTestRun")
    assert (
        _wait(org, http, auth, submitted.json()["id"])[0]["deployResult"]["status"] == "Succeeded"
    )


def test_production_soap_deploy_with_no_test_run_is_a_fault(production, http):
    """The SOAP deploy call answers an INVALID_OPERATION fault for NoTestRun in production."""
    token = production.issue_session(CLIENT_ID)[0]
    client = Salesforce(
        instance_url=production.instance_url, session_id=token, session=http, version="64.0"
    )
    with pytest.raises(SalesforceGeneralError) as refused:
        client.deploy(io.BytesIO(deploy_zip({"Site": b"x"})), sandbox=False, testLevel="NoTestRun")
    assert f"INVALID_OPERATION: {NO_TEST_RUN}" in str(refused.value.content)


def test_versions_list_needs_no_token(emu, http):
    """GET /services/data/ answers the org's versions, label, url and version, without a token."""
    org = emu.add_org(name="old", api_versions=("58.0", "59.0"))
    answer = http.get(f"{org.instance_url}/services/data/")
    assert answer.status_code == 200
    assert answer.json() == [
        {"label": "Summer '23", "url": "/services/data/v58.0", "version": "58.0"},
        {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"},
    ]
    assert org.api_versions == ("58.0", "59.0")


@pytest.mark.parametrize("path", ["/limits", "/tooling/query?q=SELECT+Id+FROM+StaticResource"])
def test_unserved_version_is_not_found(emu, http, path):
    """Any resource under a version the org does not serve answers 404 NOT_FOUND."""
    org = emu.add_org(name="old", api_versions=("58.0", "59.0"))
    answer = http.get(f"{org.instance_url}/services/data/v64.0{path}", headers=_auth(org))
    assert (answer.status_code, answer.json()) == (404, NOT_FOUND)


def test_unserved_version_deploy_is_not_found(emu, http):
    """The Metadata REST deploy under an unserved version answers 404 NOT_FOUND too."""
    org = emu.add_org(name="old", api_versions=("58.0",))
    answer = _submit(org, http, _auth(org), deploy_zip({"Site": b"x"}))
    assert (answer.status_code, answer.json()) == (404, NOT_FOUND)


def _query(org, http, soql: str, *, tooling: bool = True) -> list[dict[str, Any]]:
    base = f"{org.instance_url}{API}{'/tooling' if tooling else ''}/query"
    answer = http.get(base, params={"q": soql}, headers=_auth(org))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["records"])


def test_organization_query_answers_the_namespace(emu, http):
    """SELECT NamespacePrefix FROM Organization answers the org's namespace (null without one)."""
    named = emu.add_org(name="devns", namespace="acme")
    plain = emu.add_org(name="plain")
    query = "SELECT NamespacePrefix FROM Organization"
    assert _query(named, http, query, tooling=False)[0]["NamespacePrefix"] == "acme"
    assert _query(plain, http, query, tooling=False)[0]["NamespacePrefix"] is None
    assert named.namespace == "acme"


def test_resources_created_in_a_namespaced_org_carry_its_prefix(emu, http, site_zip):
    """A resource created through Tooling in a namespaced org has that NamespacePrefix."""
    org = emu.add_org(name="devns", namespace="acme")
    payload = {"Name": "Site", "ContentType": "application/zip", "CacheControl": "Public"}
    payload["Body"] = base64.b64encode(site_zip).decode()
    created = http.post(
        f"{org.instance_url}{API}/tooling/sobjects/StaticResource", json=payload, headers=_auth(org)
    )
    assert created.status_code == 201, created.text
    records = _query(
        org, http, "SELECT Id, NamespacePrefix FROM StaticResource WHERE Name = 'Site'"
    )
    assert [r["NamespacePrefix"] for r in records] == ["acme"]
    assert _query(org, http, "SELECT Id FROM StaticResource WHERE NamespacePrefix = null") == []


def test_managed_resource_of_the_same_name_is_apart(org, http, create_resource, site_zip):
    """A seeded managed-package resource shares the Name but not the null NamespacePrefix."""
    own = create_resource("Site", site_zip)
    managed = org.seed_resource("Site", b"managed", namespace="pkg")
    records = _query(
        org, http, "SELECT Id, NamespacePrefix FROM StaticResource WHERE Name = 'Site'"
    )
    assert {(r["Id"], r["NamespacePrefix"]) for r in records} == {(own, None), (managed.id, "pkg")}
    unmanaged = "SELECT Id FROM StaticResource WHERE Name = 'Site' AND NamespacePrefix = null"
    assert [r["Id"] for r in _query(org, http, unmanaged)] == [own]


def test_sandbox_refresh_copies_productions_resources(emu, org, production, site_zip):
    """A refresh from production replaces the sandbox's resources with production's."""
    production.seed_resource("ProdSite", site_zip)
    org.seed_resource("SandboxOnly", b"x")
    org.refresh_sandbox(production)
    resources = org.static_resources
    assert set(resources) == {"ProdSite"}
    assert resources["ProdSite"].body == site_zip


def test_sandbox_refresh_drops_local_apps(emu, org, production, verify):
    """Local External Client Apps are not copied into a refreshed sandbox (FACTS 1b)."""
    org.register_client("local-app", [REDIRECT_URI])
    org.refresh_sandbox(production)
    assert authorize(org.instance_url, verify, "local-app")[0]["error"] == "invalid_client_id"
