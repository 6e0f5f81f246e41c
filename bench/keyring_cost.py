"""Row K: what the encrypted-file keyring (keyrings.cryptfile, the shipped unit's backend on a
headless box) costs at start-up. It derives an Argon2 key for every value it reads, and the
daemon reads each connector's record once before READY=1; the Secret Service answers in
milliseconds. Measured: one read, and the daemon's time to READY with a few connectors on
each backend, extrapolated to 200 connectors.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from bench.common import Measurement, Mode
from bench.workspace import Workspace, make_workspace, start_emulator
from sfsync.config.schema import KeyringSettings
from sfsync_emulator import Emulator

PASSPHRASE = "bench-cryptfile-passphrase"  # noqa: S105 - a throwaway keyring's passphrase
SYSTEMD_START_TIMEOUT = 90.0  # DefaultTimeoutStartSec; the shipped unit sets none of its own
EXTRAPOLATE_TO = 200


def measure(mode: Mode, keyring_env: Mapping[str, str]) -> list[Measurement]:
    """Time a cryptfile read and the daemon's start-up on both backends; return row K."""
    connectors = mode.pick(4, 1)
    emu = start_emulator(0.0)
    try:
        secret = make_workspace(
            mode.scratch / "secret", emu, connectors, system="secrets", keyring_env=keyring_env
        )
        cryptfile_settings = KeyringSettings(
            backend="cryptfile", cryptfile_path=mode.scratch / "cryptfile" / "keyring.cfg"
        )
        cryptfile = make_workspace(
            mode.scratch / "cryptfile",
            emu,
            connectors,
            system="cryptfile",
            keyring_env={**keyring_env, "SFSYNC_KEYRING_PASSPHRASE": PASSPHRASE},
            keyring=cryptfile_settings,
        )
        secret_ready = _ready_seconds(secret, emu)
        cryptfile_ready = _ready_seconds(cryptfile, emu)
        one_read = _read_seconds(cryptfile, reads=1)  # each costs a second of Argon2
        secret_read = _read_seconds(secret)
    finally:
        emu.stop()
    per_connector = max(0.0, (cryptfile_ready - secret_ready) / connectors)
    at_scale = secret_ready + per_connector * EXTRAPOLATE_TO
    most = int(SYSTEMD_START_TIMEOUT / per_connector) if per_connector else 0
    return [
        Measurement(
            "K",
            "cryptfile keyring: one read",
            one_read,
            "s",
            "reference",
            None,
            note="Argon2 key derivation per value",
        ),
        Measurement(
            "K",
            "Secret Service keyring: one read",
            secret_read,
            "s",
            "reference",
            None,
            note="a new D-Bus connection and key exchange per read; the daemon reads each "
            "connector twice per cycle",
        ),
        Measurement(
            "K",
            "cryptfile keyring: daemon start per connector",
            per_connector,
            "s",
            "reference",
            None,
            note=f"READY after {cryptfile_ready:.1f} s (cryptfile) vs {secret_ready:.1f} s "
            f"(Secret Service) with {connectors} connectors; at {EXTRAPOLATE_TO}: "
            f"~{at_scale / 60:.1f} min, past systemd's {SYSTEMD_START_TIMEOUT:g} s start "
            f"timeout beyond ~{most} connectors",
            extra={"secret_ready": secret_ready, "cryptfile_ready": cryptfile_ready},
        ),
    ]


def _read_seconds(workspace: Workspace, reads: int = 3) -> float:
    """Return the best time of one keyring read through sfsync's token store."""
    store = workspace.token_store()
    best = float("inf")
    for _ in range(reads):
        started = time.perf_counter()
        store.get(workspace.connectors[0])
        best = min(best, time.perf_counter() - started)
    return best


def _ready_seconds(workspace: Workspace, _emu: Emulator) -> float:
    workspace.authorize_all()
    daemon = workspace.start_daemon()
    try:
        return daemon.wait_ready(600)
    finally:
        daemon.close()
