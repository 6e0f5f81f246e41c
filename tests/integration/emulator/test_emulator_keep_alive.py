"""HTTP/1.1 keep-alive: a connection serves request after request, unless the org closes it."""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.wait import wait_until
from tests.integration.emulator.emulator_helpers import API, CLIENT_ID


def _connect(org: OrgHandle, verify: str) -> http.client.HTTPSConnection:
    address = urlsplit(org.instance_url)
    context = ssl.create_default_context(cafile=verify)
    return http.client.HTTPSConnection(
        address.hostname or "", address.port, context=context, timeout=10
    )


@pytest.fixture
def connection(org: OrgHandle, verify: str) -> Iterator[http.client.HTTPSConnection]:
    """A raw HTTPS connection to the org, closed after the test."""
    opened = _connect(org, verify)
    yield opened
    opened.close()


def _get(
    connection: http.client.HTTPSConnection, path: str, headers: dict[str, str]
) -> http.client.HTTPResponse:
    connection.request("GET", path, headers=headers)
    answer = connection.getresponse()
    answer.read()
    return answer


def test_second_request_reuses_the_connection(connection, auth):
    """Two requests on one connection get two answers over the same socket, none saying close."""
    first = _get(connection, f"{API}/limits", auth)
    assert connection.sock is not None
    local_address = connection.sock.getsockname()
    second = _get(connection, f"{API}/limits", auth)
    assert (first.status, second.status) == (200, 200)
    assert first.getheader("Connection") is None
    assert second.getheader("Connection") is None
    assert connection.sock is not None
    assert connection.sock.getsockname() == local_address


def test_unread_body_does_not_become_the_next_request(connection, auth):
    """A refused PATCH whose 300 KB body the org never read leaves the connection ready for
    the next request, which gets its own answer.
    """
    connection.request(
        "PATCH",
        f"{API}/tooling/sobjects/StaticResource/081000000000001AAA",
        body=b'{"Body": "' + b"A" * 300_000 + b'"}',
        headers={"Authorization": "Bearer not-a-token", "Content-Type": "application/json"},
    )
    refused = connection.getresponse()
    assert refused.status == 401
    assert b"INVALID_SESSION_ID" in refused.read()
    connection.request("GET", f"{API}/limits", headers=auth)
    limits = connection.getresponse()
    assert limits.status == 200
    assert "DailyApiRequests" in limits.read().decode()


def test_keep_alive_off_closes_after_each_answer(org, verify, token):
    """An org told not to keep connections answers `Connection: close` and closes the socket."""
    org.keep_alive = False
    address = urlsplit(org.instance_url)
    context = ssl.create_default_context(cafile=verify)
    with (
        socket.create_connection((address.hostname, address.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=address.hostname) as tls,
    ):
        tls.sendall(
            f"GET {API}/limits HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        received = b""
        while chunk := tls.recv(65536):  # ends only when the server closes the connection
            received += chunk
    head = received.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head.startswith("http/1.1 200")
    assert "connection: close" in head


def test_reset_fault_on_a_kept_connection(org, http, auth):
    """reset_next still cuts a connection that served requests before; the next call works."""
    assert http.get(f"{org.instance_url}{API}/limits", headers=auth).status_code == 200
    org.faults.reset_next(1)
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(f"{org.instance_url}{API}/limits", headers=auth)
    assert http.get(f"{org.instance_url}{API}/limits", headers=auth).status_code == 200
    assert [entry.status for entry in org.request_log] == [200, 0, 200]


def test_stop_cuts_idle_kept_connections():
    """Stopping the emulator ends the threads of connections idle between requests at once."""
    before = threading.active_count()
    with Emulator() as emu:
        org = emu.add_org()
        token = org.issue_session(CLIENT_ID)[0]
        held = [_connect(org, str(emu.ca_path)) for _ in range(3)]
        for connection in held:
            answer = _get(connection, f"{API}/limits", {"Authorization": f"Bearer {token}"})
            assert answer.status == 200
        assert threading.active_count() >= before + len(held)
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    time.sleep(0.05)
    assert threading.active_count() == before
    for connection in held:
        connection.close()


def test_chunked_body_is_read_whole_on_a_kept_connection(
    org, http, auth, create_resource, site_zip
):
    """A PATCH sent in chunks (no Content-Length) is stored whole, and the connection then
    serves the next request.
    """
    resource_id = create_resource("Chunked", b"old")
    document = f'{{"Body": "{base64.b64encode(site_zip).decode()}"}}'.encode()
    pieces = (document[start : start + 7] for start in range(0, len(document), 7))
    answer = http.patch(
        f"{org.instance_url}{API}/tooling/sobjects/StaticResource/{resource_id}",
        data=pieces,
        headers={**auth, "Content-Type": "application/json"},
    )
    assert answer.status_code == 204
    assert org.static_resources["Chunked"].body == site_zip
    assert http.get(f"{org.instance_url}{API}/limits", headers=auth).status_code == 200


def test_client_gone_mid_body_leaves_the_org_serving(org, verify, auth):
    """A client that closes its connection halfway through a body ends that connection's
    thread; the org answers the next client.
    """
    before = threading.active_count()
    address = urlsplit(org.instance_url)
    context = ssl.create_default_context(cafile=verify)
    with (
        socket.create_connection((address.hostname, address.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=address.hostname) as tls,
    ):
        tls.sendall(
            f"PATCH {API}/tooling/sobjects/StaticResource/081000000000001AAA HTTP/1.1\r\n"
            f"Host: {address.netloc}\r\nAuthorization: {auth['Authorization']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n".encode()
            + b'{"Body": "'
            + b"A" * 1000
        )
    wait_until(lambda: threading.active_count() <= before, 5, "the connection's thread to end")
    connection = _connect(org, verify)
    try:
        assert _get(connection, f"{API}/limits", auth).status == 200
    finally:
        connection.close()
