"""Row 6: peak RSS of `sfsync run` while it pushes a 5 MB package to 50, 100 and 200
connectors (one emulated org each, 50 ms per request): a fresh daemon per count, one publish,
and the kernel's high-water mark (VmHWM) once every org holds it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from bench.common import Measurement, Mode, memory_mb
from bench.packages import package_bytes, publish
from bench.workspace import make_workspace, start_emulator

LATENCY = 0.05
PACKAGE_BYTES = 5_000_000  # the published ZIP; the rebuilt one stays under the 5 MB limit
PEAK_TARGET = 150.0  # MB, at the largest count
FLAT_TARGET = 1.25  # largest count's peak over the smallest's
CONCURRENCY = 8  # the configuration's default


def measure(mode: Mode, keyring_env: Mapping[str, str]) -> list[Measurement]:
    """Push to each connector count in turn; return row 6's measurements."""
    counts = mode.pick((50, 100, 200), (2, 4))
    peaks: dict[int, dict[str, float]] = {}
    size = mode.pick(PACKAGE_BYTES, 1_000_000)
    data = package_bytes(size, 1)
    for connectors in counts:
        peaks[connectors] = _push_peak(mode, keyring_env, connectors, data)
    smallest, largest = counts[0], counts[-1]
    growth = peaks[largest]["peak"] / peaks[smallest]["peak"]
    listing = ", ".join(f"{n}: {peaks[n]['peak']:.0f} MB" for n in counts)
    rows = [
        Measurement(
            "6",
            f"peak RSS pushing {size / 1e6:g} MB to {connectors} connectors",
            peaks[connectors]["peak"],
            "MB",
            f"< {PEAK_TARGET:g} MB" if connectors == largest else "reference",
            peaks[connectors]["peak"] < PEAK_TARGET if connectors == largest else None,
            note=f"{peaks[connectors]['ready']:.0f} MB at READY; push took "
            f"{peaks[connectors]['seconds']:.1f} s; concurrency {CONCURRENCY}",
            extra=peaks[connectors],
        )
        for connectors in counts
    ]
    rows.append(
        Measurement(
            "6",
            f"peak RSS growth, {smallest} -> {largest} connectors",
            growth,
            "x",
            f"flat: <= {FLAT_TARGET:g}x",
            growth <= FLAT_TARGET,
            note=listing,
        )
    )
    return rows


def _push_peak(
    mode: Mode, keyring_env: Mapping[str, str], connectors: int, data: bytes
) -> dict[str, float]:
    emu = start_emulator(LATENCY)
    try:
        workspace = make_workspace(
            mode.scratch / f"site-{connectors}",
            emu,
            connectors,
            system=f"memory{connectors}",
            keyring_env=keyring_env,
            concurrency=CONCURRENCY,
        )
        workspace.authorize_all()
        daemon = workspace.start_daemon()
        try:
            daemon.wait_ready(300)
            ready = memory_mb(daemon.process.pid)[1]
            started = publish(workspace.drop, data, 1)
            seconds = workspace.wait_all_written(started, 600, step=0.1)
            time.sleep(0.5)  # the last pushes are recorded
            peak = memory_mb(daemon.process.pid)[1]
        finally:
            daemon.close()
    finally:
        emu.stop()
    return {"peak": peak, "ready": ready, "seconds": seconds}
