"""`sfsync status --json` against its published JSON Schema (docs/status.schema.json): every key
in every row from the first run on, `paused` always a boolean, and JSON even when the keyring
cannot be read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from sfsync.actions.status import status_report, status_rows
from sfsync.auth_wiring import AuthDeps
from sfsync.cli import main
from sfsync.config import LoadedConfig, parse_config
from sfsync.errors import TokenStoreError
from sfsync.state.store import StateStore
from sfsync.tokens.memory import MemoryTokenStore
from sfsync.tokens.record import StoredAuthorization

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "status.schema.json"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CONFIG = """
[daemon]
state_dir = "state"
[oauth]
client_id = "x"
[keyring]
backend = "cryptfile"
cryptfile_path = "keyring/sfsync.cfg"
[systems.lightning]
resource = "WalkMeLightning"
source = { type = "dir", path = "drop" }
[systems.lightning.environments.sandbox]
[systems.lightning.environments.production]
requires = "sandbox"
"""


def schema() -> dict[str, Any]:
    """Return the published schema."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


def check(report: dict[str, Any]) -> None:
    """Validate a report against the schema, and check that every row has exactly the keys the
    schema documents (so the schema stays the whole contract).
    """
    published = schema()
    jsonschema.Draft202012Validator.check_schema(published)
    jsonschema.Draft202012Validator(published).validate(report)
    documented = set(published["$defs"]["row"]["properties"])
    for row in report["connectors"]:
        assert set(row) == documented, row["connector"]
        assert isinstance(row["paused"], bool)


def loaded_at(tmp_path: Path) -> LoadedConfig:
    """Return the two-connector config, rooted in tmp_path."""
    path = tmp_path / "sfsync.toml"
    path.write_text(CONFIG)
    return parse_config(CONFIG, path)


def test_first_run_has_every_key(tmp_path: Path) -> None:
    """Before any sync or authorization, every row has every key, null where unknown, paused
    false; the report carries its schema_version.
    """
    loaded = loaded_at(tmp_path)
    deps = AuthDeps(loaded, store=MemoryTokenStore(), http=requests.Session(), clock=lambda: NOW)
    report = status_report(status_rows(loaded.connectors, deps))
    check(report)
    assert report["schema_version"] == 1
    assert report["error"] is None
    sandbox = report["connectors"][0]
    assert sandbox["paused"] is False
    assert sandbox["paused_reason"] is None
    assert sandbox["recheck_after"] is None
    assert sandbox["authorized"] is False


def test_after_pushes_every_key_still(tmp_path: Path) -> None:
    """With a store holding a push, a failure and a pause, the rows still match the schema."""
    loaded = loaded_at(tmp_path)
    store = StateStore.open(loaded.config.daemon.state_dir)
    try:
        pushed = store.begin_push(
            "lightning/sandbox",
            sha256="5a" * 32,
            content_sha256="c" * 64,
            source_version="v1",
            api="tooling",
            now=NOW - timedelta(minutes=5),
        )
        store.finish_push(pushed, resource_id="081A", now=NOW - timedelta(minutes=4))
        store.set_paused("lightning/sandbox", paused=True, reason="rolled back to 0123456789ab")
        store.doubt_writes("lightning/sandbox", until=NOW + timedelta(minutes=2))
    finally:
        store.close()
    deps = AuthDeps(loaded, store=MemoryTokenStore(), http=requests.Session(), clock=lambda: NOW)
    report = status_report(status_rows(loaded.connectors, deps))
    check(report)
    assert report["connectors"][0]["paused"] is True
    assert report["connectors"][0]["last_result"] == "pushed"


class UnreadableStore(MemoryTokenStore):
    """A token store whose every read fails, as a locked or corrupt keyring's does."""

    def get(self, connector: str) -> StoredAuthorization | None:
        """Refuse to read."""
        raise TokenStoreError(f"keyring could not read sfsync/{connector}: locked")


def test_unreadable_entry_is_unknown_not_absent(tmp_path: Path) -> None:
    """An entry the keyring cannot read leaves the row's authorization null (unknown), with the
    error in `auth_error`, and the other rows whole.
    """
    loaded = loaded_at(tmp_path)
    deps = AuthDeps(loaded, store=UnreadableStore(), http=requests.Session(), clock=lambda: NOW)
    report = status_report(status_rows(loaded.connectors, deps))
    check(report)
    row = report["connectors"][0]
    assert row["authorized"] is None
    assert row["needs_authorization"] is None
    assert "locked" in row["auth_error"]


def test_keyring_error_still_prints_json_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no passphrase for the cryptfile keyring, `status --json` prints the report with the
    error in it (authorization null in every row) and exits 3, as SPEC section 5 asks.
    """
    monkeypatch.delenv("SFSYNC_KEYRING_PASSPHRASE", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    loaded_at(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(tmp_path / "sfsync.toml"), "status", "--json"])
    assert exited.value.code == 3
    report = json.loads(capsys.readouterr().out)
    check(report)
    assert "passphrase" in report["error"]
    assert [row["authorized"] for row in report["connectors"]] == [None, None]
