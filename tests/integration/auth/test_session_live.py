"""The per-connector session against the emulator over HTTPS, with tokens in a real Secret
Service: a 401 after expiry is refreshed and retried, and a rotated refresh token is in the
keyring before the new access token is used.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sfsync.config.schema import KeyringSettings
from sfsync.salesforce.identity import fetch_username
from sfsync.tokens import StoredAuthorization
from sfsync.tokens.backends import open_backend
from sfsync.tokens.keyring_store import KeyringTokenStore
from tests.fixtures.in_process import (
    drop_ca_bundle_env,
    emulator_for,
    emulator_http,
    emulator_session,
)
from tests.fixtures.site import authorization

CONNECTOR = "lightning/sandbox"
CLIENT = "sfsync-session-test"
LIMITS = "/services/data/v64.0/limits"


@pytest.mark.slow
def test_expiry_refresh_rotation_and_threads(
    secret_service_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expired sessions are refreshed once for many threads; each rotation is stored first."""
    drop_ca_bundle_env(monkeypatch)
    store = KeyringTokenStore(
        open_backend(KeyringSettings(backend="keyring.backends.SecretService.Keyring"))
    )
    with emulator_for(CLIENT) as emu:
        org = emu.add_org(name="sandbox", rotate_refresh_tokens=True)
        first = authorization(org, CLIENT)
        refresh = first.refresh_token
        assert refresh is not None
        store.put(CONNECTOR, first)
        uses: list[tuple[str, str | None]] = []
        real_put = store.put

        def recording_put(connector: str, record: StoredAuthorization) -> None:
            real_put(connector, record)
            uses.append(("stored", record.refresh_token))

        store.put = recording_put  # type: ignore[method-assign]
        http = emulator_http(emu)
        session = emulator_session(CONNECTOR, store, http, tmp_path / "state")
        assert session.request("GET", LIMITS).status_code == 200
        org.faults.expire_sessions()
        results: list[int] = []
        threads = [
            threading.Thread(
                target=lambda: results.append(session.request("GET", LIMITS).status_code)
            )
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [200] * 6
        assert len(uses) == 2  # the first token, then exactly one refresh for six threads
        stored = store.get(CONNECTOR)
        assert stored is not None
        assert stored.refresh_token == uses[-1][1]
        assert stored.refresh_token != refresh  # rotated, and the rotation is what is kept
        user = fetch_username(
            http,
            org.instance_url,
            "64.0",
            org.default_user.user_id,
            session.access_token(),
        )
        assert user == org.default_user.username  # the rotated family still works
