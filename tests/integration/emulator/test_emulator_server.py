"""Server lifecycle: many orgs, clean shutdown, idle cost, fixed ports and the foreground runner."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
import requests

from sfsync.ports import unused_loopback_port
from sfsync_emulator import Emulator
from sfsync_emulator.foreground import DEMO_CLIENT_ID, run
from tests.integration.emulator.emulator_helpers import API


def test_stop_leaves_no_threads_or_sockets():
    """Leaving the context manager stops every server thread and closes every port."""
    before = threading.active_count()
    with Emulator() as emu:
        orgs = [emu.add_org(name=f"o{index}") for index in range(5)]
        for org in orgs:
            answer = requests.get(
                f"{org.instance_url}/resource/x", verify=str(emu.ca_path), timeout=10
            )
            assert answer.status_code == 404
        ports = [int(org.instance_url.rsplit(":", 1)[1]) for org in orgs]
    time.sleep(0.05)
    assert threading.active_count() == before
    for port in ports:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass


def test_stop_wakes_hung_requests():
    """A request held by a hang fault does not keep the emulator from stopping quickly."""
    with Emulator() as emu:
        org = emu.add_org()
        org.faults.hang_next(1, seconds=30)

        def call() -> None:
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{org.instance_url}/resource/x", verify=str(emu.ca_path), timeout=60)

        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        time.sleep(0.2)
        started = time.monotonic()
    assert time.monotonic() - started < 3


def test_orgs_need_a_running_emulator_and_unique_names():
    """add_org before start is refused, as is a second org with the same name."""
    emu = Emulator()
    with pytest.raises(RuntimeError):
        emu.add_org()
    with emu:
        emu.add_org(name="same")
        with pytest.raises(ValueError, match="already exists"):
            emu.add_org(name="same")


def test_fixed_port_and_busy_port():
    """An org can listen on a given port; a busy port raises OSError instead of exiting."""
    port = unused_loopback_port()
    with Emulator() as emu:
        org = emu.add_org(port=port)
        assert org.instance_url == f"https://127.0.0.1:{port}"
        with pytest.raises(OSError):
            emu.add_org(name="clash", port=port)


@pytest.mark.slow
def test_two_hundred_idle_orgs_cost_almost_no_cpu():
    """200 idle orgs burn well under 5 % of a core (one acceptor thread blocks in select)."""
    with Emulator() as emu:
        for index in range(200):
            emu.add_org(name=f"bench{index}")
        cpu_before, wall_before = time.process_time(), time.monotonic()
        time.sleep(2.0)
        cpu = time.process_time() - cpu_before
        wall = time.monotonic() - wall_before
    assert cpu / wall < 0.05


def test_foreground_prints_config_and_stops_on_event():
    """foreground.run prints the URLs, CA path and a sfsync.toml snippet, and stops on the event."""
    lines: list[str] = []
    stop = threading.Event()
    port = unused_loopback_port()
    worker = threading.Thread(target=run, args=(port, lines.append, stop), daemon=True)
    worker.start()
    for _ in range(100):
        if any(line.startswith("[systems.demo.environments.sandbox]") for line in lines):
            break
        time.sleep(0.05)
    text = "\n".join(lines)
    assert f"https://127.0.0.1:{port}" in text
    assert f'client_id = "{DEMO_CLIENT_ID}"' in text
    assert "login_url = " in text
    assert 'resource = "DemoResource"' in text
    ca_line = next(line for line in lines if line.startswith("CA file:"))
    ca_path = ca_line.split(":", 1)[1].strip()
    answer = requests.get(f"https://127.0.0.1:{port}{API}/limits", verify=ca_path, timeout=10)
    assert answer.status_code == 401
    stop.set()
    worker.join(5)
    assert not worker.is_alive()
    assert lines[-1] == "sfsync emulator stopped."
