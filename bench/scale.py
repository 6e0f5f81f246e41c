"""Row S: one daemon at 1,000 and at 10,000 connectors (one emulated org each, 100 ms per
request, a 100 KB package), each figure with its target and its growth from the smaller count
to the larger (linear or better: at most the ratio of the counts).

For each count, in a fresh site: `sfsync run` from start to READY; one publish until every org
holds it; the daemon idle for a while (CPU, RSS; RSS per connector is the growth in idle RSS
between the two counts over the connectors added); then, with the daemon stopped, an unchanged
`sfsync sync` and `sfsync status`. `--quick` runs the same at 2 and 4 connectors (CI only
checks that it runs). The full row is long: on the bench's Secret Service keyring, writing
1,000 authorizations took over 2 minutes, and a CLI command past 300 s is cut (see CLI_LIMIT).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

from bench.common import Measurement, Mode, cpu_seconds, memory_mb
from bench.fanout import wait_quiet
from bench.packages import package_bytes, publish
from bench.workspace import Workspace, make_workspace, start_emulator
from tests.fixtures.site import SFSYNC

LATENCY = 0.1
PACKAGE_BYTES = 100_000
CONCURRENCY = 32
READY_TARGET = 30.0  # seconds, at the largest count
CLI_TARGET = 10.0  # seconds for an unchanged sync, and for status
IDLE_CPU_TARGET = 1.0  # percent of one core
RSS_PER_CONNECTOR_TARGET = 10.0  # KB
CLI_LIMIT = 300.0  # seconds a CLI command may take before it is cut and the limit reported


def measure(mode: Mode, keyring_env: Mapping[str, str]) -> list[Measurement]:
    """Run each count in turn; return row S's measurements."""
    counts: tuple[int, int] = mode.pick((1_000, 10_000), (2, 4))
    idle_seconds = mode.pick(30.0, 1.0)
    found = {count: _run(mode, keyring_env, count, idle_seconds) for count in counts}
    small, large = counts
    rows: list[Measurement] = []
    for case, key, unit, target in (
        ("start to READY", "ready", "s", READY_TARGET),
        ("one publish until every org holds it", "publish", "s", None),
        (f"idle CPU over {idle_seconds:g} s", "idle_cpu", "% core", IDLE_CPU_TARGET),
        ("idle RSS", "idle_rss", "MB", None),
        ("an unchanged `sfsync sync`", "sync", "s", CLI_TARGET),
        ("`sfsync status`", "status", "s", CLI_TARGET),
    ):
        rows += _pair(found, counts, case, key=key, unit=unit, target=target)
    per_connector = 1024 * (found[large]["idle_rss"] - found[small]["idle_rss"]) / (large - small)
    rows.append(
        Measurement(
            "S",
            f"idle RSS per connector, {small:,} -> {large:,}",
            per_connector,
            "KB",
            f"< {RSS_PER_CONNECTOR_TARGET:g} KB",
            per_connector < RSS_PER_CONNECTOR_TARGET,
            note="the idle RSS added over the connectors added",
        )
    )
    return rows


def _pair(
    found: Mapping[int, Mapping[str, Any]],
    counts: tuple[int, int],
    case: str,
    *,
    key: str,
    unit: str,
    target: float | None,
) -> list[Measurement]:
    """Return one figure's rows: each count (the target applying to each), then its growth."""
    small, large = counts
    rows = [
        Measurement(
            "S",
            f"{case}, {count:,} connectors",
            found[count][key],
            unit,
            f"< {target:g} {unit}" if target is not None else "reference",
            found[count][key] < target if target is not None else None,
            note=found[count]["note"] if key == "ready" else "",
        )
        for count in counts
    ]
    growth = found[large][key] / max(found[small][key], 1e-9)
    rows.append(
        Measurement(
            "S",
            f"{case}: growth {small:,} -> {large:,}",
            growth,
            "x",
            f"linear or better: <= {large / small:g}x",
            growth <= large / small,
        )
    )
    return rows


def _run(
    mode: Mode, keyring_env: Mapping[str, str], count: int, idle_seconds: float
) -> dict[str, Any]:
    """Measure one count in a fresh site and emulator; return its figures."""
    emu = start_emulator(LATENCY)
    try:
        setup = time.monotonic()
        workspace = make_workspace(
            mode.scratch / f"scale-{count}",
            emu,
            count,
            system=f"scale{count}",
            keyring_env=keyring_env,
            concurrency=CONCURRENCY,
        )
        workspace.authorize_all()
        setup = time.monotonic() - setup
        daemon = workspace.start_daemon()
        try:
            ready = daemon.wait_ready(max(300.0, count * 0.1))
            _progress(count, f"READY after {ready:.1f} s (site set up in {setup:.0f} s)")
            started = publish(workspace.drop, package_bytes(PACKAGE_BYTES, 1), 1)
            spread = workspace.wait_all_written(started, max(600.0, count * 0.2), step=0.5)
            _progress(count, f"every org holds the publish after {spread:.1f} s")
            wait_quiet(daemon)
            cpu = cpu_seconds(daemon.process.pid)
            rss = 0.0
            deadline = time.monotonic() + idle_seconds
            while time.monotonic() < deadline:
                rss = max(rss, memory_mb(daemon.process.pid)[0])
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            idle_cpu = 100 * (cpu_seconds(daemon.process.pid) - cpu) / idle_seconds
        finally:
            daemon.stop()
        sync = _timed(workspace, "sync", CLI_LIMIT)
        status = _timed(workspace, "status", CLI_LIMIT)
        _progress(
            count,
            f"idle {idle_cpu:.2f} % core, {rss:.1f} MB; sync {sync:.1f} s, status {status:.1f} s",
        )
    finally:
        emu.stop()
    return {
        "ready": ready,
        "publish": spread,
        "idle_cpu": idle_cpu,
        "idle_rss": rss,
        "sync": sync,
        "status": status,
        "note": f"site set up (orgs, keyring entries) in {setup:.0f} s; keyring "
        f"{workspace.keyring.backend.rsplit('.', 2)[-2]}; concurrency {CONCURRENCY}"
        + "".join(
            f"; {name} cut at {CLI_LIMIT:g} s"
            for name, seconds in (("sync", sync), ("status", status))
            if seconds >= CLI_LIMIT
        ),
    }


def _progress(count: int, text: str) -> None:
    """Print how far a long count has got (10,000 connectors take a while)."""
    print(f"  {count:,} connectors: {text}", file=sys.stderr, flush=True)


def _timed(workspace: Workspace, command: str, limit: float) -> float:
    """Run one CLI command on the site; return its wall-clock seconds, or `limit` if it had
    not finished by then (it is killed: the figure then reads as "at least"). Raise
    RuntimeError if it fails.
    """
    started = time.monotonic()
    try:
        done = subprocess.run(
            [str(SFSYNC), "--config", str(workspace.config), command],
            env=workspace.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=limit,
        )
    except subprocess.TimeoutExpired:
        return limit
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"sfsync {command} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds
