"""`status` checks its connectors concurrently against emulated orgs over HTTPS: rows in config
order, each connector's failure its own; the shared pools keep a connection for each thread.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from requests.adapters import HTTPAdapter

from sfsync.actions.status import CHECKS_AT_ONCE, status_rows
from sfsync.auth_wiring import AuthDeps
from sfsync.config import parse_config
from tests.fixtures.in_process import (
    authorized_tokens,
    drop_ca_bundle_env,
    emulator_for,
    emulator_http,
)
from tests.fixtures.site import config_head

CLIENT = "sfsync-status-concurrent"
ON_ONE_HOST = 3 * CHECKS_AT_ONCE
REVOKED = 4
LATENCY = 0.5  # so that the checks overlap, however slow the machine


def test_rows_in_order_each_failure_its_own_over_one_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows keep config order, checked on several threads; revoked and unauthorized
    connectors show as such without touching the others.
    """
    drop_ca_bundle_env(monkeypatch)
    with emulator_for(CLIENT) as emu:
        busy = emu.add_org(name="busy")
        revoked = emu.add_org(name="revoked")
        busy.faults.latency(LATENCY)
        orgs = {f"lightning/env{index:03}": busy for index in range(ON_ONE_HOST)}
        # Spread through the config, so that a failure in the middle of the run is seen.
        for index in range(REVOKED):
            orgs[f"lightning/env{index * 20 + 5:03}"] = revoked
        lines = [
            *config_head(tmp_path, CLIENT, emu.ca_path),
            "[systems.lightning]",
            'resource = "WalkMeLightning"',
            f'source = {{ type = "dir", path = "{tmp_path / "drop"}", settle = "0s" }}',
        ]
        for name, org in [*orgs.items(), ("lightning/unauthorized", busy)]:
            lines += [
                f"[systems.lightning.environments.{name.split('/')[1]}]",
                f'login_url = "{org.instance_url}"',
            ]
        config = tmp_path / "sfsync.toml"
        config.write_text("\n".join(lines) + "\n")
        loaded = parse_config(config.read_text(), config)
        threads: set[str] = set()
        deps = AuthDeps(
            loaded=loaded,
            store=authorized_tokens(orgs, CLIENT),
            http=emulator_http(emu),
            on_refresh=lambda _connector, _result: threads.add(threading.current_thread().name),
        )
        revoked.faults.revoke_refresh_tokens()
        rows = status_rows(loaded.connectors, deps)
    assert [row.connector for row in rows] == [c.name for c in loaded.connectors]
    failed = {row.connector for row in rows if row.needs_authorization}
    assert failed == {name for name, org in orgs.items() if org is revoked} | {
        "lightning/unauthorized"
    }
    for row in rows:
        if row.connector == "lightning/unauthorized":
            assert (row.authorized, row.auth_error) == (False, None)
        elif row.connector in failed:
            assert row.authorized is False
            assert row.auth_error is not None
        else:
            assert (row.authorized, row.auth_error) == (True, None)
    assert len(threads) > 1
    assert all(name.startswith("status") for name in threads)


def test_pool_keeps_a_connection_for_every_concurrent_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After `CHECKS_AT_ONCE` requests to one host at once, as many again reuse every
    connection the first opened: none was closed for want of room in the pool.
    """
    drop_ca_bundle_env(monkeypatch)
    with emulator_for(CLIENT) as emu:
        org = emu.add_org(name="busy")
        org.faults.latency(LATENCY)
        http = emulator_http(emu)
        versions = org.instance_url + "/services/data/"

        def wave() -> None:
            answers: list[int] = []
            start = threading.Barrier(CHECKS_AT_ONCE)

            def send() -> None:
                start.wait()
                answers.append(http.get(versions).status_code)

            threads = [threading.Thread(target=send) for _ in range(CHECKS_AT_ONCE)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert answers == [200] * CHECKS_AT_ONCE

        wave()
        adapter = http.get_adapter(versions)
        assert isinstance(adapter, HTTPAdapter)
        pools = adapter.poolmanager.pools
        port = urlsplit(org.instance_url).port
        # urllib3's pool container cannot be iterated, only its keys listed.
        (pool,) = [pools[key] for key in pools.keys() if key.key_port == port]  # noqa: SIM118
        opened = pool.num_connections
        wave()
    assert opened > 1, "the first wave's requests did not overlap"
    assert pool.num_requests == 2 * CHECKS_AT_ONCE
    assert pool.num_connections == opened
