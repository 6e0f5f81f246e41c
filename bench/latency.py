"""Row 2: publish-to-live latency with `sfsync run` and a dir source (settle "0s": publishers
rename a finished file into place). From the rename of a new package into the drop folder
until the emulator holds it (the resource's SystemModstamp, on the same clock), for 100 KB,
1 MB and 4.5 MB packages; then the floor, measured the same way: the same build plus one HTTPS
write, in a process that does nothing else (floor_push.py).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from itertools import count, islice
from pathlib import Path
from typing import IO

from bench.common import Measurement, Mode, percentile
from bench.floor_cpu import floor_command
from bench.packages import package_bytes, publish
from bench.workspace import RESOURCE, Workspace, make_workspace, start_emulator
from sfsync_emulator import OrgHandle

LATENCY = 0.05
SIZES = {"100 KB": 100_000, "1 MB": 1_000_000, "4.5 MB": 4_500_000}
HEADLINE = "1 MB"
P50_TARGET = 0.5
P95_TARGET = 1.0
QUIET_SECONDS = 0.2  # between publishes, so each one meets an idle daemon
TIMEOUT = 60.0


def measure(mode: Mode, keyring_env: Mapping[str, str]) -> list[Measurement]:
    """Publish packages of each size to a running daemon, then to the floor; return row 2."""
    publishes = mode.pick(30, 1)
    floor_publishes = mode.pick(10, 1)
    emu = start_emulator(LATENCY)
    versions = count(1)
    # Every package is made before the clock starts; the floor gets the same ones.
    packages = {
        label: [
            (version, package_bytes(size, version)) for version in islice(versions, publishes + 1)
        ]
        for label, size in SIZES.items()
    }
    try:
        workspace = make_workspace(
            mode.scratch / "site", emu, 1, system="latency", keyring_env=keyring_env
        )
        workspace.authorize_all()
        daemon = workspace.start_daemon()
        try:
            daemon.wait_ready(60)
            sfsync = {
                label: _daemon_latencies(workspace, published)
                for label, published in packages.items()
            }
        finally:
            daemon.close()
        floor_org = emu.add_org(name="latency-floor")
        floor = _floor_latencies(
            floor_org,
            emu.ca_path,
            mode.scratch / "floor",
            {label: published[: floor_publishes + 1] for label, published in packages.items()},
        )
    finally:
        emu.stop()
    return _rows(sfsync, floor, publishes, floor_publishes)


def _daemon_latencies(workspace: Workspace, published: list[tuple[int, bytes]]) -> list[float]:
    """Publish each package in turn (the first warms up and is not counted); return latencies."""
    latencies = []
    for index, (version, data) in enumerate(published):
        time.sleep(QUIET_SECONDS)
        started = publish(workspace.drop, data, version)
        took = workspace.wait_all_written(started, TIMEOUT, step=0.01)
        if index:  # the first one compresses every entry anew and fills the cache
            latencies.append(took)
    return latencies


def _floor_latencies(
    org: OrgHandle, ca_path: Path, scratch: Path, packages: Mapping[str, list[tuple[int, bytes]]]
) -> dict[str, list[float]]:
    """Run the floor process over the packages of each size (the first of each warms up);
    return latencies by size label.
    """
    command, env = floor_command(org, ca_path, scratch)
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdin is not None  # noqa: S101 - Popen was asked for both pipes
    assert process.stdout is not None  # noqa: S101
    results: dict[str, list[float]] = {}
    try:
        for label, published in packages.items():
            results[label] = []
            for index, (version, data) in enumerate(published):
                path = scratch / f"{version}.zip"
                path.write_bytes(data)
                time.sleep(QUIET_SECONDS)
                started = _floor_write(process.stdin, process.stdout, path)
                stamp = org.static_resources[RESOURCE].system_modstamp
                if index:
                    results[label].append(stamp - started)
    finally:
        process.stdin.close()
        process.wait(timeout=30)
    return results


def _floor_write(requests: IO[str], answers: IO[str], path: Path) -> float:
    requests.write(f"{path}\n")
    requests.flush()
    line = answers.readline()
    if not line:
        raise RuntimeError("the floor process ended early")
    return float(line.split()[0])  # then its CPU figures, which row 3 reads


def _rows(
    sfsync: Mapping[str, list[float]],
    floor: Mapping[str, list[float]],
    publishes: int,
    floor_publishes: int,
) -> list[Measurement]:
    rows = []
    for label, latencies in sfsync.items():
        p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
        floor_p50 = percentile(floor[label], 0.5)
        headline = label == HEADLINE
        rows.append(
            Measurement(
                "2",
                f"publish-to-live p50, {label}",
                p50,
                "s",
                f"< {P50_TARGET} s" if headline else "reference",
                p50 < P50_TARGET if headline else None,
                note=f"floor p50 {floor_p50:.3f} s, ratio {p50 / floor_p50:.1f}x; "
                f"{publishes} publishes (floor: {floor_publishes})",
                extra={"latencies": latencies, "floor": floor[label]},
            )
        )
        rows.append(
            Measurement(
                "2",
                f"publish-to-live p95, {label}",
                p95,
                "s",
                f"< {P95_TARGET} s" if headline else "reference",
                p95 < P95_TARGET if headline else None,
                note=f"floor p95 {percentile(floor[label], 0.95):.3f} s; "
                f"max {max(latencies):.3f} s",
            )
        )
    floor_1mb = percentile(floor[HEADLINE], 0.5)
    rows.append(
        Measurement(
            "2",
            f"floor p50, {HEADLINE} (build + one HTTPS write)",
            floor_1mb,
            "s",
            "reference",
            None,
            note=f"sfsync p50 / floor p50 = {percentile(sfsync[HEADLINE], 0.5) / floor_1mb:.1f}x",
        )
    )
    return rows
