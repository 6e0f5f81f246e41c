"""Row S: one daemon at 1,000 and at 10,000 connectors on the shipped unit's keyring (the
encrypted file, keyrings.cryptfile, one entry per connector), one emulated org each (each on
its own HTTPS port: a publish is a real write to every org), 100 ms per request, a 100 KB
package; each figure with its target and its growth from the smaller count to the larger
(linear or better: at most the ratio of the counts).

For each count, in a fresh site and emulator (the orgs' setup time and the emulator's RSS are
noted): the authorizations written in one rewrite of the keyring file; the keyring's own share
(open it and read every entry in-process, through sfsync's token store, as a command or the
daemon's start does); `sfsync run` from start to READY; one publish until every org holds it;
the daemon idle for a while (CPU, RSS; RSS per connector is the growth in idle RSS between the
two counts over the connectors added); then, with the daemon stopped, an unchanged
`sfsync sync` (every connector must come out unchanged) and `sfsync status`. `--quick` runs the
same at 2 and 4 connectors (CI only checks that it runs). A CLI command past 300 s is cut (see
CLI_LIMIT).
"""

from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.common import Measurement, Mode, cpu_seconds, memory_mb
from bench.fanout import idle_cost
from bench.keyring_cost import PASSPHRASE
from bench.packages import package_bytes, publish
from bench.workspace import Workspace, make_workspace, start_emulator
from sfsync.actions.status import CHECKS_AT_ONCE, LIVE_CHECKS_PER_RUN
from sfsync.config.schema import KeyringSettings
from sfsync.locks import keyring_lock_path
from sfsync.tokens.backends import open_backend
from sfsync.tokens.caching import cached
from sfsync.tokens.keyring_store import KeyringTokenStore
from tests.fixtures.daemon_support import Daemon
from tests.fixtures.site import SFSYNC

LATENCY = 0.1
PACKAGE_BYTES = 100_000
CONCURRENCY = 32
READY_TARGET = 30.0  # seconds, at the largest count
CLI_TARGET = 10.0  # seconds for an unchanged sync, and for status
IDLE_CPU_TARGET = 1.0  # percent of one core
# A /metrics scrape's daemon CPU: 1 % of a core at Prometheus's default scrape interval (1 min).
SCRAPE_CPU_TARGET = 0.6  # seconds
RSS_PER_CONNECTOR_TARGET = 10.0  # KB
CLI_LIMIT = 300.0  # seconds a CLI command may take before it is cut and the limit reported
# How long the publish may take, per connector (1,800 s at 10,000), before it is cut.
PUBLISH_LIMIT_PER_CONNECTOR = 0.18


def measure(mode: Mode, keyring_env: Mapping[str, str]) -> list[Measurement]:
    """Run each count in turn; return row S's measurements."""
    counts: tuple[int, int] = mode.pick((1_000, 10_000), (2, 4))
    idle_seconds = mode.pick(30.0, 1.0)
    found = {count: _run(mode, keyring_env, count, idle_seconds) for count in counts}
    small, large = counts
    rows: list[Measurement] = []
    for case, key, unit, target in (
        ("open the keyring, read every entry", "keyring", "s", None),
        ("start to READY", "ready", "s", READY_TARGET),
        ("one publish until every org holds it", "publish", "s", None),
        (f"idle CPU over {idle_seconds:g} s", "idle_cpu", "% core", IDLE_CPU_TARGET),
        ("idle RSS", "idle_rss", "MB", None),
        ("a /metrics scrape, daemon CPU", "scrape", "s", SCRAPE_CPU_TARGET),
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
            note=found[count]["notes"].get(key, ""),
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
    """Measure one count in a fresh site and emulator; return its figures and their notes."""
    root = mode.scratch / f"scale-{count}"
    emu = start_emulator(LATENCY)
    try:
        setup = time.monotonic()
        workspace = make_workspace(
            root,
            emu,
            count,
            system=f"scale{count}",
            keyring_env={**keyring_env, "SFSYNC_KEYRING_PASSPHRASE": PASSPHRASE},
            keyring=KeyringSettings(backend="cryptfile", cryptfile_path=root / "keyring.cfg"),
            concurrency=CONCURRENCY,
        )
        orgs_setup = time.monotonic() - setup
        emulator_rss = memory_mb(os.getpid())[0]
        workspace.authorize_all()
        setup = time.monotonic() - setup
        _progress(
            count, f"{count:,} orgs up in {orgs_setup:.0f} s, keyring written by {setup:.0f} s"
        )
        keyring = _keyring_pass(workspace)
        found = _run_daemon(workspace, count, idle_seconds)
    finally:
        emu.stop()
    found["keyring"] = keyring.seconds
    found["notes"] |= {
        "keyring": f"CPU {keyring.cpu:.1f} s; in-process, through sfsync's token store: "
        "the keyring's share of READY, sync and status",
        "ready": f"CPU {found['ready_cpu']:.1f} s; {count:,} orgs (a port each) up in "
        f"{orgs_setup:.0f} s, emulator RSS {emulator_rss:.0f} MB; keyring written in "
        f"{setup - orgs_setup:.0f} s; concurrency {CONCURRENCY}",
    }
    return found


def _run_daemon(workspace: Workspace, count: int, idle_seconds: float) -> dict[str, Any]:
    """Start the daemon on the site, publish, watch it idle, stop it, then run the CLI; return
    the figures. A publish not held by every org within PUBLISH_LIMIT is reported at the limit
    and the figures after it as NaN (the row is then incomplete: `bench.run` exits 2).
    """
    limit = max(600.0, count * PUBLISH_LIMIT_PER_CONNECTOR)
    daemon = workspace.start_daemon()
    try:
        ready = daemon.wait_ready(max(300.0, count * 0.1))
        ready_cpu = cpu_seconds(daemon.process.pid)
        ready_rss = memory_mb(daemon.process.pid)[0]
        _progress(count, f"READY after {ready:.1f} s (CPU {ready_cpu:.1f} s, {ready_rss:.1f} MB)")
        started = publish(workspace.drop, package_bytes(PACKAGE_BYTES, 1), 1)
        cpu = cpu_seconds(daemon.process.pid)
        spread, held = _wait_published(workspace, started, limit)
        publish_cpu = cpu_seconds(daemon.process.pid) - cpu
        publish_note = (
            f"daemon CPU {publish_cpu:.1f} s ({1000 * publish_cpu / max(held, 1):.1f} ms per push)"
        )
        if spread is None:
            _progress(count, f"publish cut at {limit:g} s: {held:,} of {count:,} orgs held it")
            cut = f"cut at {limit:g} s: {held:,} of {count:,} orgs held it; {publish_note}"
            return {
                **dict.fromkeys(("idle_cpu", "idle_rss", "scrape", "sync", "status"), math.nan),
                "ready": ready,
                "ready_cpu": ready_cpu,
                "publish": limit,
                "notes": dict.fromkeys(
                    ("idle_cpu", "idle_rss", "scrape", "sync", "status"),
                    "not measured: publish cut",
                )
                | {
                    "publish": cut,
                    "idle_rss": f"not measured: publish cut; {ready_rss:.1f} MB at READY",
                },
            }
        _progress(count, f"every org holds the publish after {spread:.1f} s")
        idle = idle_cost(workspace, daemon, idle_seconds)
        idle_cpu, rss = idle["cpu_percent"], idle["rss_max"]
        scrape_cpu, scrape_note = _scrape(workspace, daemon)
    finally:
        daemon.stop()
    sync = _timed(workspace, ("sync",), CLI_LIMIT)
    if sync.seconds is not None:
        _check_unchanged(sync.output, count)
    status = _timed(workspace, ("status",), CLI_LIMIT)
    _progress(
        count,
        f"idle {idle_cpu:.2f} % core, {rss:.1f} MB; sync {_seconds(sync)}, "
        f"status {_seconds(status)}",
    )
    return {
        "ready": ready,
        "ready_cpu": ready_cpu,
        "publish": spread,
        "idle_cpu": idle_cpu,
        "idle_rss": rss,
        "scrape": scrape_cpu,
        "sync": sync.seconds or CLI_LIMIT,
        "status": status.seconds or CLI_LIMIT,
        "notes": {
            "publish": publish_note,
            "idle_rss": f"{ready_rss:.1f} MB at READY",
            "scrape": scrape_note,
            "sync": _note(sync),
            "status": f"{_note(status)}; a live token refresh for at most "
            f"{LIVE_CHECKS_PER_RUN} connectors (the least recently proven), "
            f"{CHECKS_AT_ONCE} at a time",
        },
    }


def _scrape(workspace: Workspace, daemon: Daemon) -> tuple[float, str]:
    """Fetch /metrics as Prometheus would; return the daemon's CPU for it, and a note with its
    size and the daemon's RSS after it (a scrape makes the whole text at once).
    """
    cpu = cpu_seconds(daemon.process.pid)
    started = time.monotonic()
    url = f"http://127.0.0.1:{workspace.port}/metrics"
    with urllib.request.urlopen(url, timeout=CLI_LIMIT) as answer:
        body = answer.read()
    seconds = time.monotonic() - started
    used = cpu_seconds(daemon.process.pid) - cpu
    lines = body.count(b"\n")
    rss = memory_mb(daemon.process.pid)
    return used, (
        f"{len(body) / 1e6:.1f} MB, {lines:,} lines in {seconds:.2f} s; "
        f"daemon RSS after it {rss[0]:.1f} MB (peak {rss[1]:.1f} MB)"
    )


def _wait_published(workspace: Workspace, started: float, limit: float) -> tuple[float | None, int]:
    """Wait until every org holds the resource written after `started`, or `limit` seconds;
    return the last write's time after `started` (None if cut) and how many orgs hold it.
    """
    deadline = time.monotonic() + limit
    stamps: dict[str, float] = {}
    while True:
        stamps.update(workspace.written_since(started))
        if len(stamps) == len(workspace.orgs):
            return max(stamps.values()) - started, len(stamps)
        if time.monotonic() >= deadline:
            return None, len(stamps)
        time.sleep(0.5)


def _progress(count: int, text: str) -> None:
    """Print how far a long count has got (10,000 connectors take a while)."""
    print(f"  {count:,} connectors: {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Run:
    """One CLI command: its wall seconds (None if it was cut), CPU seconds, output."""

    seconds: float | None
    cpu: float
    output: str


def _keyring_pass(workspace: Workspace) -> Run:
    """Return the wall and CPU seconds sfsync's token store takes to open the site's keyring
    and read every connector's authorization, as a command or the daemon's start does; raise
    RuntimeError if an entry is missing.
    """
    started = time.perf_counter()
    cpu_started = time.process_time()
    lock = keyring_lock_path(workspace.root / "state")
    store = cached(KeyringTokenStore(open_backend(workspace.keyring, workspace.env, lock), lock))
    records = store.get_many(workspace.connectors)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if None in records.values():
        raise RuntimeError(f"an authorization is missing from {workspace.keyring.cryptfile_path}")
    return Run(seconds, cpu, "")


def _timed(workspace: Workspace, args: tuple[str, ...], limit: float) -> Run:
    """Run `sfsync ARGS` on the site, killed after `limit` seconds (then seconds is None);
    raise RuntimeError if it fails.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [str(SFSYNC), "--config", str(workspace.config), *args],
            env=workspace.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=limit,
        )
    except subprocess.TimeoutExpired:
        done = None
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done is None:
        return Run(None, cpu, "")
    if done.returncode != 0:
        raise RuntimeError(f"sfsync {args[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    return Run(seconds, cpu, done.stdout)


def _check_unchanged(output: str, count: int) -> None:
    """Raise RuntimeError unless the sync's table reports every connector unchanged."""
    results = [line.split()[1:2] for line in output.splitlines()[1:]]
    if results != [["unchanged"]] * count:
        raise RuntimeError(f"the sync at {count:,} connectors was not all unchanged: {results[:3]}")


def _seconds(run: Run) -> str:
    return f"{run.seconds:.1f} s" if run.seconds is not None else f"cut at {CLI_LIMIT:g} s"


def _note(run: Run) -> str:
    cut = f"cut at {CLI_LIMIT:g} s; " if run.seconds is None else ""
    return f"{cut}CPU {run.cpu:.1f} s"
