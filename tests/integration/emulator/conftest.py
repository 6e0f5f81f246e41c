"""Fixtures for the emulator's integration tests: a running emulator, an org, a client, tokens."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from simple_salesforce.api import Salesforce

from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.in_process import drop_ca_bundle_env
from tests.integration.emulator.emulator_helpers import API, CLIENT_ID, REDIRECT_URI, build_zip


@pytest.fixture(autouse=True)
def _no_ca_bundle_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a host's REQUESTS_CA_BUNDLE from overriding `session.verify`."""
    drop_ca_bundle_env(monkeypatch)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A running emulator with the test client registered; stopped after the test."""
    with Emulator(device_interval=0) as emulator:
        emulator.register_client(CLIENT_ID, [REDIRECT_URI])
        yield emulator


@pytest.fixture
def org(emu: Emulator) -> OrgHandle:
    """One org in the running emulator, with fast deploys."""
    return emu.add_org(name="sandbox", api_budget=1000, deploy_seconds=0.3)


@pytest.fixture
def verify(emu: Emulator) -> str:
    """The emulator CA path, as `verify=` takes it."""
    return str(emu.ca_path)


@pytest.fixture
def http(verify: str) -> Iterator[requests.Session]:
    """A requests session that trusts the emulator CA."""
    with requests.Session() as session:
        session.verify = verify
        yield session


@pytest.fixture
def token(org: OrgHandle) -> str:
    """An access token for the org's default user (minted without the OAuth dance)."""
    return org.issue_session(CLIENT_ID)[0]


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    """The Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def sf(org: OrgHandle, token: str, http: requests.Session) -> Salesforce:
    """A simple-salesforce client on the org, using the CA-trusting session."""
    return Salesforce(instance_url=org.instance_url, session_id=token, session=http, version="64.0")


@pytest.fixture
def site_zip() -> bytes:
    """A small web package: the bytes of a ZIP StaticResource."""
    return build_zip({"index.html": b"<h1>hi</h1>", "js/app.js": b"console.log(1)"})


@pytest.fixture
def create_resource(
    org: OrgHandle, http: requests.Session, auth: dict[str, str]
) -> Callable[[str, bytes], str]:
    """Create a StaticResource through the Tooling API; return its id."""

    def create(name: str, body: bytes) -> str:
        payload = {
            "Name": name,
            "ContentType": "application/zip",
            "Body": base64.b64encode(body).decode(),
            "CacheControl": "Public",
        }
        answer = http.post(
            f"{org.instance_url}{API}/tooling/sobjects/StaticResource", json=payload, headers=auth
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    return create


@pytest.fixture
def recorded_dir() -> Path:
    """The shared folder of recorded Salesforce answers (skips when it is absent)."""
    root = Path(__file__).resolve().parents[3]
    folder = root / ".." / "shared" / "salesforce" / "recorded"
    if not folder.is_dir():
        pytest.skip("the recorded Salesforce samples (../shared/salesforce/recorded) are absent")
    return folder
