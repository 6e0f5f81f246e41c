"""Every connector's calls go through one observed HTTP session, and each answer is credited
to the connector that asked for it: over real HTTPS to two emulated orgs, from many threads at
once, token grants, raw requests and simple-salesforce calls alike.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from sfsync.auth_wiring import AuthDeps
from sfsync.config import load_config
from sfsync.http_session import HttpSettings, calling, calling_connector, new_http_session
from sfsync_emulator import Emulator
from tests.fixtures.in_process import authorized_tokens, drop_ca_bundle_env, emulator_for
from tests.fixtures.site import CLIENT_ID, write_config

ROUNDS = 12


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A running emulator whose CA the sessions trust."""
    drop_ca_bundle_env(monkeypatch)
    with emulator_for(CLIENT_ID) as emu:
        yield emu


def test_each_answer_is_credited_to_the_connector_that_asked(
    tmp_path: Path, emulator: Emulator
) -> None:
    """Two connectors on two orgs, called from 8 threads at once through the one observed
    session: every answer observed is named after the connector whose org answered it, and
    every call of each is seen (a token grant, then each REST and simple-salesforce call).
    """
    orgs = {"sandbox": emulator.add_org(name="sandbox"), "uat": emulator.add_org(name="uat")}
    config = write_config(
        tmp_path, {name: org.instance_url for name, org in orgs.items()}, emulator.ca_path, 8719
    )
    loaded = load_config(config)
    by_name = {c.name.split("/")[-1]: c for c in loaded.connectors}
    tokens = authorized_tokens({by_name[n].name: org for n, org in orgs.items()}, CLIENT_ID)
    seen: list[tuple[str, str]] = []
    seen_lock = threading.Lock()

    def observe(connector: str, response: requests.Response) -> None:
        with seen_lock:
            seen.append((connector, urlsplit(response.url).netloc))

    deps = AuthDeps(
        loaded=loaded,
        store=tokens,
        http=new_http_session(HttpSettings(verify=emulator.ca_path, timeout=10.0)),
        on_response=observe,
    )
    sessions = {name: deps.session(by_name[name]) for name in orgs}

    def call(name: str) -> None:
        session = sessions[name]
        assert session.request("GET", f"/services/data/v{session.api_version}/limits").ok
        query = "query/?q=SELECT+Id+FROM+StaticResource"
        session.with_salesforce(lambda sf: sf.toolingexecute(query))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(call, [name for _ in range(ROUNDS) for name in orgs]))

    hosts = {by_name[name].name: urlsplit(org.instance_url).netloc for name, org in orgs.items()}
    assert {connector for connector, _ in seen} == set(hosts)
    wrong = [(connector, host) for connector, host in seen if hosts[connector] != host]
    assert wrong == [], f"answers credited to the wrong connector: {wrong[:3]}"
    for connector in hosts:
        # One token grant (the login host is the org's own here), then two calls per round.
        assert sum(1 for name, _ in seen if name == connector) == 1 + 2 * ROUNDS
    assert calling_connector() is None


def test_calls_outside_a_connector_are_not_credited(tmp_path: Path, emulator: Emulator) -> None:
    """A request sent through the observed session outside any connector's call is credited
    to nobody, and `calling` marks only what runs inside it.
    """
    org = emulator.add_org(name="sandbox")
    config = write_config(tmp_path, {"sandbox": org.instance_url}, emulator.ca_path, 8719)
    loaded = load_config(config)
    seen: list[str] = []
    deps = AuthDeps(
        loaded=loaded,
        store=authorized_tokens({loaded.connectors[0].name: org}, CLIENT_ID),
        http=new_http_session(HttpSettings(verify=emulator.ca_path, timeout=10.0)),
        on_response=lambda connector, _response: seen.append(connector),
    )
    http = deps.session(loaded.connectors[0])._http  # the session it sends through
    http.get(f"{org.instance_url}/services/data/")
    assert seen == []
    with calling("lightning/sandbox"):
        assert calling_connector() == "lightning/sandbox"
        http.get(f"{org.instance_url}/services/data/")
    assert seen == ["lightning/sandbox"]
    assert calling_connector() is None
