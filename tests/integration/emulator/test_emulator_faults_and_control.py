"""Fault injection (Python API and control endpoint), the request log and its counters."""

from __future__ import annotations

import time

import pytest
import requests

from tests.integration.emulator.emulator_helpers import API, CLIENT_ID


def _limits(org, http: requests.Session, auth, timeout: float = 10) -> requests.Response:
    """Call a cheap REST endpoint."""
    return http.get(f"{org.instance_url}{API}/limits", headers=auth, timeout=timeout)


def test_latency_delays_answers(org, http, auth):
    """A latency fault delays every matching answer until cleared."""
    org.faults.latency(0.3)
    started = time.monotonic()
    assert _limits(org, http, auth).status_code == 200
    assert time.monotonic() - started >= 0.3
    org.faults.clear()
    started = time.monotonic()
    _limits(org, http, auth)
    assert time.monotonic() - started < 0.3


@pytest.mark.parametrize("status", [500, 503])
def test_fail_next_answers_salesforce_shaped_5xx(org, http, auth, status):
    """fail_next answers N Salesforce-shaped 5xx errors, then normal answers again."""
    org.faults.fail_next(2, status=status)
    for _ in range(2):
        answer = _limits(org, http, auth)
        assert answer.status_code == status
        assert set(answer.json()[0]) == {"message", "errorCode"}
    assert _limits(org, http, auth).status_code == 200


def test_fail_next_on_oauth_uses_oauth_error_shape(emu, org, verify):
    """An injected 5xx on the token endpoint answers an OAuth-shaped JSON object."""
    emu.faults.fail_next(1, status=503, api="oauth")
    answer = requests.post(
        f"{emu.login_url}/services/oauth2/token",
        data={"grant_type": "x"},
        verify=verify,
        timeout=10,
    )
    assert answer.status_code == 503
    assert set(answer.json()) == {"error", "error_description"}


def test_reset_next_closes_connection_without_answer(org, http, auth):
    """reset_next cuts the connection with no HTTP answer; the client sees a ConnectionError."""
    org.faults.reset_next(1)
    with pytest.raises(requests.exceptions.ConnectionError):
        _limits(org, http, auth)
    assert _limits(org, http, auth).status_code == 200
    assert [e.status for e in org.request_log] == [0, 200]


def test_hang_next_makes_clients_time_out(org, http, auth):
    """hang_next holds a request past the client's timeout."""
    org.faults.hang_next(1, seconds=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _limits(org, http, auth, timeout=0.3)
    assert _limits(org, http, auth).status_code == 200


def test_expire_sessions_gives_401_then_refresh_works(emu, org, verify):
    """expire_sessions makes the next API call 401; a refresh then gets a working token."""
    access, refresh = org.issue_session(CLIENT_ID)
    org.faults.expire_sessions()
    headers = {"Authorization": f"Bearer {access}"}
    answer = requests.get(
        f"{org.instance_url}{API}/limits", headers=headers, verify=verify, timeout=10
    )
    assert answer.status_code == 401
    assert answer.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": CLIENT_ID}
    fresh = requests.post(
        f"{org.instance_url}/services/oauth2/token", data=form, verify=verify, timeout=10
    )
    assert fresh.status_code == 200


def test_revoke_refresh_tokens_gives_invalid_grant(emu, org, verify):
    """revoke_refresh_tokens makes the next refresh answer 400 invalid_grant."""
    _, refresh = org.issue_session(CLIENT_ID)
    emu.faults.revoke_refresh_tokens()
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": CLIENT_ID}
    answer = requests.post(
        f"{emu.login_url}/services/oauth2/token", data=form, verify=verify, timeout=10
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }


def test_exhaust_api_budget(org, http, auth):
    """exhaust_api_budget makes the next API call answer 403 REQUEST_LIMIT_EXCEEDED."""
    org.faults.exhaust_api_budget()
    answer = _limits(org, http, auth)
    assert answer.status_code == 403
    assert answer.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert answer.headers["Sforce-Limit-Info"] == "api-usage=1000/1000"


def test_faults_scoped_by_org_api_and_path(emu, org, http, auth, verify):
    """A fault scoped to one org, api kind or path prefix leaves everything else alone."""
    other = emu.add_org(name="other")
    other_auth = {"Authorization": f"Bearer {other.issue_session()[0]}"}
    org.faults.fail_next(5, api="tooling")
    org.faults.fail_next(5, path_prefix=f"{API}/query")
    assert _limits(org, http, auth).status_code == 200
    assert _limits(other, http, other_auth).status_code == 200
    tooling = http.get(
        f"{org.instance_url}{API}/tooling/query/",
        params={"q": "SELECT Id FROM StaticResource"},
        headers=auth,
    )
    assert tooling.status_code == 503
    rest = http.get(
        f"{org.instance_url}{API}/query/",
        params={"q": "SELECT Id FROM StaticResource"},
        headers=auth,
    )
    assert rest.status_code == 503


def test_random_faults_are_reproducible_by_seed(emu, http, verify):
    """The same seed injects faults into the same calls; the rate is roughly honoured."""
    outcomes = []
    for name in ("chaos1", "chaos2"):
        org = emu.add_org(name=name)
        auth = {"Authorization": f"Bearer {org.issue_session()[0]}"}
        org.faults.random(rate=0.2, kinds=["error", "reset"], seed=7)
        row = []
        for _ in range(40):
            try:
                row.append(_limits(org, http, auth).status_code)
            except requests.exceptions.ConnectionError:
                row.append(0)
        outcomes.append(row)
    assert outcomes[0] == outcomes[1]
    failures = sum(1 for status in outcomes[0] if status != 200)
    assert 2 <= failures <= 16


def test_random_rejects_unknown_kinds(org):
    """Unknown fault kinds are refused up front."""
    with pytest.raises(ValueError, match="fault kinds"):
        org.faults.random(rate=0.5, kinds=["meteor"])


def test_control_endpoint_arms_faults_and_lists_requests(org, http, auth):
    """POST /_emulator/faults arms faults; GET /_emulator/requests lists answered requests."""
    control = f"{org.instance_url}/_emulator"
    assert http.post(f"{control}/faults", json={"kind": "error", "n": 1, "status": 500}).json() == {
        "ok": True
    }
    assert _limits(org, http, auth).status_code == 500
    assert http.post(f"{control}/faults", json={"kind": "exhaust_api_budget"}).status_code == 200
    assert _limits(org, http, auth).status_code == 403
    assert http.post(f"{control}/faults", json={"kind": "meteor"}).status_code == 400
    for kind in ("latency", "reset", "hang", "random", "expire_sessions", "revoke_refresh_tokens"):
        body = {"kind": kind, "seconds": 0.01, "rate": 0.0, "n": 0}
        assert http.post(f"{control}/faults", json=body).status_code == 200
    assert http.delete(f"{control}/faults").status_code == 200
    listed = http.get(f"{control}/requests").json()
    assert listed["count"] == len(listed["requests"])
    statuses = [(r["api"], r["status"]) for r in listed["requests"] if r["api"] != "control"]
    assert statuses == [("rest", 500), ("rest", 403)]


def test_request_log_counts_and_control_is_free(org, http, auth, site_zip, create_resource):
    """The request log counts per api, method and path; control calls cost no API budget."""
    create_resource("Counted", site_zip)
    _limits(org, http, auth)
    http.get(f"{org.instance_url}/_emulator/requests")
    assert org.count(api="tooling", method="POST") == 1
    assert org.count(api="rest") == 1
    assert org.count(path_prefix=f"{API}/tooling/sobjects/StaticResource") == 1
    assert org.count(api="control") == 1
    assert org.count() == 3
    assert org.api_used == 2


def test_issued_tokens_are_listed_per_org(emu, org):
    """issued_tokens lists every access and refresh token, per org and emulator-wide."""
    access, refresh = org.issue_session(CLIENT_ID)
    other = emu.add_org(name="elsewhere")
    other_access, _ = other.issue_session(CLIENT_ID)
    assert {access, refresh} <= set(org.issued_tokens)
    assert other_access not in org.issued_tokens
    assert {access, refresh, other_access} <= set(emu.issued_tokens)


def test_random_expire_and_latency_kinds(org, http, auth):
    """Random faults of kind expire_session make calls 401; latency kinds only slow them."""
    org.faults.random(rate=1.0, kinds=["expire_session"], seed=1)
    assert _limits(org, http, auth).status_code == 401
    org.faults.clear()
    fresh = {"Authorization": f"Bearer {org.issue_session()[0]}"}
    org.faults.random(rate=1.0, kinds=["latency"], seed=1, seconds=0.2)
    started = time.monotonic()
    assert _limits(org, http, fresh).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_unexpected_errors_answer_like_salesforce(org, http, auth, monkeypatch, caplog):
    """A bug inside a view answers a Salesforce-shaped 500 and is logged, not a bare traceback."""
    from sfsync_emulator import app  # noqa: PLC0415 - patched for this test only

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setitem(app.VIEWS, "rest.limits", broken)
    answer = _limits(org, http, auth)
    assert answer.status_code == 500
    assert answer.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert "boom" in caplog.text
