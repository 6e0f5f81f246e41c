"""Item 5: the cryptfile keyring shared by the daemon and `sfsync authorize`.

keyrings.cryptfile reads its whole file, changes one entry and rewrites the file in place with
`open(path, "w")`. Two processes writing at once each wrote back what they had read (31 of 121
entries lost); a process killed between the truncation and the write left an empty file (every
token gone). A damaged file surfaced as an internal error with a traceback.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

import sfsync
from sfsync.auth_wiring import AuthDeps, auth_deps
from sfsync.config.load import load_config
from sfsync.errors import TokenStoreError
from sfsync.tokens.cryptfile import AtomicCryptFileKeyring
from sfsync.tokens.record import StoredAuthorization
from tests.reliability.figures import Figures

pytestmark = pytest.mark.slow

PASSPHRASE = "correct horse"
DAEMON = Path(sfsync.__file__).resolve().parents[1]
ENTRIES = 60
RECORD = StoredAuthorization(
    flow="web",
    instance_url="https://example.my.salesforce.com",
    identity_url="https://login.salesforce.com/id/00D/005",
    login_url="https://test.salesforce.com",
    client_id="client",
    issued_at="2026-01-01T00:00:00+00:00",
    refresh_token="refresh",
)
# Argon2 at its production cost takes ~3 s per entry here; a cheap setting changes how the key
# is derived, not how the file is read and rewritten, which is what these tests are about.
CHEAP_KDF = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
# One writer: the production wiring (as the CLI and the daemon use it), 60 entries of its own.
WRITE = f"""
import sys
from pathlib import Path
from sfsync.tokens.cryptfile import AtomicCryptFileKeyring
for name, value in {CHEAP_KDF!r}.items():
    setattr(AtomicCryptFileKeyring, name, value)
from sfsync.auth_wiring import auth_deps
from sfsync.config.load import load_config
from sfsync.tokens.record import StoredAuthorization
record = StoredAuthorization(**{RECORD.__dict__!r})
deps = auth_deps(load_config(Path(sys.argv[1])), {{"SFSYNC_KEYRING_PASSPHRASE": {PASSPHRASE!r}}})
for number in range({ENTRIES}):
    deps.store.put(f"{{sys.argv[2]}}/entry{{number}}", record)
"""


@pytest.fixture(autouse=True)
def _cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Derive keys cheaply in this process too, as the writers do."""
    for name, value in CHEAP_KDF.items():
        monkeypatch.setattr(AtomicCryptFileKeyring, name, value)


def write_config(root: Path) -> Path:
    """Write a config whose keyring is a cryptfile in `root`; return its path."""
    (root / "drop").mkdir()
    path = root / "sfsync.toml"
    path.write_text(
        "\n".join(
            [
                "[daemon]",
                f'state_dir = "{root / "state"}"',
                'metrics_listen = ""',
                "[oauth]",
                'client_id = "client"',
                "[keyring]",
                'backend = "cryptfile"',
                f'cryptfile_path = "{root / "keyring.cfg"}"',
                "[systems.lightning]",
                'resource = "WalkMeLightning"',
                f'source = {{ type = "dir", path = "{root / "drop"}" }}',
                "[systems.lightning.environments.sandbox]",
                'login_url = "https://test.salesforce.com"',
            ]
        )
        + "\n"
    )
    return path


def deps(config: Path) -> AuthDeps:
    """Open the keyring through the production wiring."""
    return auth_deps(load_config(config), {"SFSYNC_KEYRING_PASSPHRASE": PASSPHRASE})


def writer(config: Path, name: str) -> subprocess.Popen[str]:
    """Start a process writing its 60 entries."""
    return subprocess.Popen(
        [sys.executable, "-c", WRITE, str(config), name],
        env={"PYTHONPATH": str(DAEMON)},
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_writers_keep_all_120_entries(tmp_path: Path, figures: Figures) -> None:
    """Two processes each writing 60 distinct entries at once: all 120 are there after."""
    config = write_config(tmp_path)
    deps(config)  # create the file first: the race under test is between writes
    writers = [writer(config, "one"), writer(config, "two")]
    for process in writers:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    store = deps(config).store
    kept = [
        f"{name}/entry{number}"
        for name in ("one", "two")
        for number in range(ENTRIES)
        if store.get(f"{name}/entry{number}") is not None
    ]
    figures.add("security", "keyring entries kept, two concurrent writers", f"{len(kept)}/120")
    assert len(kept) == 2 * ENTRIES


def test_the_file_is_never_seen_half_written(tmp_path: Path, figures: Figures) -> None:
    """While a process writes 60 entries, the file read at any moment is whole: it always
    holds the keyring's own settings (before, each rewrite truncated it first, so a reader, or
    a crash at that moment, found it empty).
    """
    config = write_config(tmp_path)
    deps(config)
    path = tmp_path / "keyring.cfg"
    seen = {"reads": 0, "broken": 0}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            text = path.read_text()
            seen["reads"] += 1
            if "[keyring_2Dsetting]" not in text or "version = " not in text:
                seen["broken"] += 1

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        process = writer(config, "one")
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    finally:
        stop.set()
        watcher.join()
    figures.add(
        "security", "keyring file reads seen half-written", f"{seen['broken']} of {seen['reads']}"
    )
    assert seen["broken"] == 0


def test_a_damaged_file_is_a_one_line_token_store_error(tmp_path: Path) -> None:
    """A cryptfile that is not INI any more gives TokenStoreError, one line naming the file
    and what to do (before: configparser's error escaped as an internal error).
    """
    config = write_config(tmp_path)
    store = deps(config).store
    store.put("lightning/sandbox", RECORD)
    path = tmp_path / "keyring.cfg"
    path.write_text(path.read_text() + "\nnot = ini\n[broken\n")
    with pytest.raises(TokenStoreError) as opened:
        deps(config)
    with pytest.raises(TokenStoreError) as read:
        store.get("lightning/sandbox")
    for error in (opened.value, read.value):
        message = str(error)
        assert "\n" not in message
        assert str(path) in message
        assert "sfsync authorize" in message
