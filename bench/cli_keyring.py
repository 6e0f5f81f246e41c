"""Row 7: the CLI on the cryptfile keyring (the shipped unit's backend on a headless box).
keyrings.cryptfile derives an Argon2 key (about a second of CPU) for every value it reads or
writes, so what a command costs is how many it derives. Measured with 20 connectors (2 with
--quick): `sfsync status` and an unchanged `sfsync sync`, each as a subprocess, against the
floor: a process that opens the keyring and reads each of the 20 entries once. The figure is
the processes' CPU time (user + system), which Argon2 dominates and which other load on the
machine barely moves; wall time is in the note.

Before each measurement the entries are written back by the stock backend, a salt per value,
as 20 separate `sfsync authorize` runs leave them: the costliest file to read. (sfsync writes
under the salt of the file's reference value, so a keyring that the daemon or a command has
written back costs one derivation in all.)
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

from keyrings.cryptfile.cryptfile import CryptFileKeyring

from bench.common import Measurement, Mode
from bench.packages import package_bytes, publish
from bench.workspace import Workspace, make_workspace, start_emulator
from sfsync.config.schema import KeyringSettings
from sfsync.tokens.record import SERVICE
from tests.fixtures.site import SFSYNC

PASSPHRASE = "bench-cli-passphrase"  # noqa: S105 - a throwaway keyring's passphrase
TARGET_RATIO = 1.2
# The floor: open the keyring as sfsync does (the stock backend, the same file) and read each
# entry once; argv: file, passphrase, then the entries.
FLOOR = """
import sys
from keyrings.cryptfile.cryptfile import CryptFileKeyring
backend = CryptFileKeyring()
backend.file_path = sys.argv[1]
backend.keyring_key = sys.argv[2]
for name in sys.argv[3:]:
    assert backend.get_password("sfsync", name) is not None
"""


def measure(mode: Mode, keyring_env: Mapping[str, str]) -> list[Measurement]:
    """Time `status` and an unchanged `sync` with N connectors on cryptfile, and the floor of
    N single reads; return row 7 as ratios to the floor.
    """
    connectors = mode.pick(20, 2)
    emu = start_emulator(0.0)
    try:
        path = mode.scratch / "keyring" / "sfsync.cfg"
        path.parent.mkdir(parents=True, mode=0o700)
        workspace = make_workspace(
            mode.scratch / "site",
            emu,
            connectors,
            system="cli",
            keyring_env={**keyring_env, "SFSYNC_KEYRING_PASSPHRASE": PASSPHRASE},
            keyring=KeyringSettings(backend="cryptfile", cryptfile_path=path),
        )
        workspace.authorize_all()
        publish(workspace.drop, package_bytes(20_000, 1), 1)
        _run(workspace, _sfsync(workspace, "sync"))  # every org holds it: the next is unchanged
        floor = _timed(
            workspace, [sys.executable, "-c", FLOOR, str(path), PASSPHRASE, *workspace.connectors]
        )
        status = _timed(workspace, _sfsync(workspace, "status"))
        unchanged = _timed(workspace, _sfsync(workspace, "sync"))
    finally:
        emu.stop()
    return [
        Measurement(
            "7",
            f"cryptfile floor: open + {connectors} single reads (CPU)",
            floor.cpu,
            "s",
            "reference",
            None,
            note=f"a process reading each entry once (one Argon2 key each); {floor.wall:.1f} s "
            "wall",
        ),
        _ratio("status", status, floor, connectors),
        _ratio("unchanged sync", unchanged, floor, connectors),
    ]


@dataclass(frozen=True)
class Timing:
    """What one process cost: CPU seconds (user + system) and wall seconds."""

    cpu: float
    wall: float


def _ratio(command: str, timing: Timing, floor: Timing, connectors: int) -> Measurement:
    ratio = timing.cpu / floor.cpu
    return Measurement(
        "7",
        f"cryptfile: `sfsync {command}`, {connectors} connectors, CPU vs the floor",
        ratio,
        "x",
        f"<= {TARGET_RATIO:g}x",
        ratio <= TARGET_RATIO,
        note=f"CPU {timing.cpu:.1f} s vs {floor.cpu:.1f} s; wall {timing.wall:.1f} s vs "
        f"{floor.wall:.1f} s",
        extra={"cpu": timing.cpu, "wall": timing.wall, "floor_cpu": floor.cpu},
    )


def _timed(workspace: Workspace, argv: list[str]) -> Timing:
    """Write the entries back a salt each, then return what running `argv` cost."""
    _resalt(workspace)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    _run(workspace, argv)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(cpu, wall)


def _sfsync(workspace: Workspace, command: str) -> list[str]:
    return [str(SFSYNC), "--config", str(workspace.config), command]


def _run(workspace: Workspace, argv: list[str]) -> None:
    done = subprocess.run(
        argv, env=workspace.env, capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv[-1]}: exit {done.returncode}: {done.stderr[-500:]}")


def _resalt(workspace: Workspace) -> None:
    """Rewrite every entry with the stock backend, which draws a salt per value."""
    stock = CryptFileKeyring()
    stock.file_path = str(workspace.keyring.cryptfile_path)
    stock.keyring_key = PASSPHRASE
    for connector in workspace.connectors:
        value = stock.get_password(SERVICE, connector)
        if value is None:
            raise RuntimeError(f"{connector}: no keyring entry to rewrite")
        stock.set_password(SERVICE, connector, value)
