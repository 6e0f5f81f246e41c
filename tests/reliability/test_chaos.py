"""Chaos convergence (issue 8, item 1): `sfsync run` against several emulated orgs while a
seeded driver publishes packages at random intervals, the emulator injects faults into a fifth
of all calls (5xx, connection resets, timeouts, expired sessions) and, at full size, spends
orgs' whole API budgets for a while (REQUEST_LIMIT_EXCEEDED), and the daemon is SIGKILLed and
restarted at random moments. Then the faults stop, the daemon converges and is stopped with SIGTERM.

What must hold at the end: every connector serves exactly the newest package (byte-equal to
what `sfsync build` makes of it); every body an org ever held is a complete build of a
published package, and one whose push the state store recorded; the push history has a final
outcome on every row, no missing ids, and ends on the build the org serves; no token issued by
the emulator appears in a log or in the state directory.

The seed is printed; RELIABILITY_SEED=N replays a run's driver and fault choices (thread
timing still varies). A timeout is a held request: the emulator holds it past the client's
timeout and then applies it anyway, as Salesforce does with a request whose caller gave up.

Tokens live in a real Secret Service (GNOME Keyring on a private bus), so that restarts and
refreshes cost milliseconds and the kills land in pushes rather than in key derivation;
RELIABILITY_KEYRING=cryptfile runs the same storm on the cryptfile keyring (about a second of
Argon2 per keyring read or write, so far fewer pushes happen between kills).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import os
import random
import re
import secrets
import sqlite3
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sfsync.actions.build import build_for_connector
from sfsync.config import load_config
from sfsync.daemon.backoff import LONGEST_RETRY_SECONDS
from sfsync.package.limits import package_limits
from sfsync.sources.source import Package
from sfsync_emulator import Emulator
from sfsync_emulator.faults import Decision, FaultBook
from tests.fixtures.daemon_support import Daemon, start_daemon
from tests.fixtures.secret_service import secret_service, secret_service_available
from tests.fixtures.site import CLIENT_ID
from tests.fixtures.sync_support import RESOURCE, SyncSite, sync_site
from tests.fixtures.wait import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@dataclass(frozen=True)
class Size:
    """How big a run is."""

    name: str
    publishes: int
    kills: int
    orgs: int
    limit_chance: float  # per publish: spend one org's whole API budget ...


# The quick run (part of `make test`) spends no org's budget: a connector that read a usage
# above the ceiling is deferred for 5 minutes, which would make the run last 5 minutes instead
# of under one as soon as a window falls near its end. Deferrals and REQUEST_LIMIT_EXCEEDED
# have their own tests (test_sync_deferral, test_sync_cli); the full run keeps them here.
SIZES = {
    "quick": Size("quick", publishes=60, kills=4, orgs=3, limit_chance=0.0),
    "full": Size("full", publishes=200, kills=10, orgs=5, limit_chance=0.1),
}
# One org per environment, with a mix of what connectors can be: plain Tooling pushes,
# verified ones (the body is downloaded back) and a Metadata deploy.
ENVIRONMENTS: dict[str, str] = {
    "sandbox": "",
    "uat": "verify = true",
    "staging": 'api = "metadata"',
    "preprod": "verify = true",
    "production": "",
}
KEYRING = os.environ.get("RELIABILITY_KEYRING", "secret-service")
FAULT_RATE = 0.2
FAULT_KINDS = ("error", "reset", "hang", "expire_session")
CLIENT_TIMEOUT = "3s"
HANG_SECONDS = 4.0  # past the client's timeout: a hang is a timeout, applied anyway
# Emulated deploys run 0.3 s; a short patience keeps the Metadata connector's doubt (a deploy
# request that got no answer may still run) at 2 x 3 + 10 + 10 = 26 s.
DEPLOY_PATIENCE = "10s"
PUBLISH_GAP_SECONDS = 0.3
KILL_DELAY_SECONDS = 2.0  # a kill lands up to this long after a publish, inside its cycle
LIMIT_PUBLISHES = (1, 6)  # ... until this many publishes later (see Size.limit_chance)
DAILY_BUDGET = 15000
READY_SECONDS = 120.0
# Once the faults stop, a connector whose last push failed is retried when its own backoff
# ends (the re-scan does not retry it sooner, and nothing new is published): up to
# LONGEST_RETRY_SECONDS (10 min) after a long run of failures in a row. A deferral (API usage
# above the ceiling) is looked at again after 5 minutes. Two minutes on top for the cycles.
CONVERGE_SECONDS = LONGEST_RETRY_SECONDS + 120.0
FINAL_OUTCOMES = frozenset({"pushed", "failed", "abandoned"})


class FaultTally:
    """Counts what the emulator's fault book injects, by kind, as requests arrive."""

    def __init__(self, book: FaultBook) -> None:
        self._decide = book.decide
        self._lock = threading.Lock()
        self.calls = 0
        self.counts: Counter[str] = Counter()

    def decide(self, org_id: str | None, api: str, path: str) -> Decision:
        """Decide as the fault book does, counting each call and each injected fault."""
        decision = self._decide(org_id, api, path)
        kind = decision.action or ("latency" if decision.latency else None)
        with self._lock:
            self.calls += api != "control"
            if kind is not None:
                self.counts["timeout" if kind == "hang" else kind] += 1
        return decision

    def snapshot(self) -> tuple[Counter[str], int]:
        """Return the faults injected so far, by kind, and the calls they were drawn from."""
        with self._lock:
            return Counter(self.counts), self.calls


@pytest.fixture
def size(scale: str) -> Size:
    """The run's size for the scale."""
    return SIZES[scale]


@pytest.fixture
def seed() -> int:
    """The run's seed: RELIABILITY_SEED, or a fresh one (printed either way)."""
    chosen = int(os.environ.get("RELIABILITY_SEED") or secrets.randbelow(2**31))
    print(f"\nchaos seed: {chosen} (replay with RELIABILITY_SEED={chosen})")  # noqa: T201
    return chosen


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A running emulator with sfsync's client registered."""
    with Emulator(device_interval=0, pkce_rejects_tilde=True) as emulator:
        emulator.register_client(CLIENT_ID)
        yield emulator


@pytest.fixture
def tally(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> FaultTally:
    """The faults the emulator injects, counted."""
    spy = FaultTally(emu.fault_book)
    monkeypatch.setattr(emu.fault_book, "decide", spy.decide)
    return spy


@pytest.fixture
def keyring_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A Secret Service on a private bus, reachable from this process and the daemon (empty
    under RELIABILITY_KEYRING=cryptfile).
    """
    if KEYRING == "cryptfile":
        yield {}
        return
    if not secret_service_available():
        pytest.fail("gnome-keyring-daemon / dbus-daemon missing: run `make system-deps`")
    with secret_service(tmp_path / "home", tmp_path / "run") as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield env


@pytest.fixture
def site(tmp_path: Path, emu: Emulator, size: Size, keyring_env: dict[str, str]) -> SyncSite:
    """An sfsync site with one authorized connector per org, a short client timeout and the
    chosen keyring.
    """
    environments = list(ENVIRONMENTS)[: size.orgs]
    orgs = {name: emu.add_org(name=name, api_budget=DAILY_BUDGET) for name in environments}
    site = sync_site(
        tmp_path,
        emu,
        orgs,
        {name: ENVIRONMENTS[name] for name in environments},
        keyring_env or None,
    )
    config = site.site.config
    config.write_text(
        config.read_text().replace(
            'timeout = "10s"',
            f'timeout = "{CLIENT_TIMEOUT}"\ndeploy_patience = "{DEPLOY_PATIENCE}"',
        )
    )
    for environment in environments:
        site.authorize(environment)
    return site


@dataclass
class Chaos:
    """The driver: publishes, kills, restarts and API-limit windows, and what it did."""

    site: SyncSite
    rng: random.Random
    daemon: Daemon | None = None
    logs: list[Path] = field(default_factory=list)
    published: dict[int, Path] = field(default_factory=dict)
    kills: int = 0
    limit_windows: int = 0
    spent: dict[str, int] = field(default_factory=dict)  # environment -> restore at version

    def start(self) -> None:
        """Start `sfsync run` on a fresh metrics port and wait for READY=1."""
        config = self.site.site.config
        config.write_text(
            re.sub(r'metrics_listen = ".*"', 'metrics_listen = ""', config.read_text())
        )
        daemon = self.daemon = start_daemon(self.site)
        self.logs.append(daemon.log_path)
        try:
            wait_until(
                lambda: daemon.notify.seen("READY", "1") or daemon.process.poll() is not None,
                READY_SECONDS,
                "READY=1",
            )
        except AssertionError as error:
            raise AssertionError(f"{error}; the daemon's log:\n{tail(daemon.log_path)}") from None
        self.running()

    def running(self) -> Daemon:
        """Return the daemon now running; fail if it died on its own."""
        daemon = self.daemon
        assert daemon is not None
        assert daemon.process.poll() is None, (
            f"the daemon exited by itself ({daemon.process.returncode}):\n{tail(daemon.log_path)}"
        )
        return daemon

    def publish(self, version: int) -> None:
        """Publish one package (renamed into the drop folder) and remember its file."""
        self.running()
        self.site.publish_sorted(version)
        self.published[version] = self.site.drop / f"walkme-{version:05d}.zip"

    def kill_and_restart(self) -> None:
        """SIGKILL the daemon's process group a random moment later; start it anew."""
        time.sleep(self.rng.uniform(0, KILL_DELAY_SECONDS))
        self.running().kill()
        self.kills += 1
        self.start()

    def limits(self, version: int, chance: float) -> None:
        """Now and then spend one org's whole API budget; give it back a few publishes later."""
        for environment, until in list(self.spent.items()):
            if version >= until:
                self.restore_budget(environment)
        fresh = sorted(set(self.site.orgs) - set(self.spent))
        if fresh and self.rng.random() < chance:
            environment = self.rng.choice(fresh)
            self.site.orgs[environment].faults.exhaust_api_budget()
            self.spent[environment] = version + self.rng.randint(*LIMIT_PUBLISHES)
            self.limit_windows += 1

    def restore_budget(self, environment: str) -> None:
        """A new day: nothing of the org's budget is spent (raising the budget instead would
        leave the usage ratio creeping up, window after window, past sfsync's ceiling).
        """
        org = self.site.orgs[environment]
        with self.site.emu.backend.lock:
            org._org.api_used = 0
        self.spent.pop(environment, None)

    def storm(self, size: Size) -> None:
        """Publish `size.publishes` packages with random gaps, killing the daemon after
        `size.kills` of them chosen at random.
        """
        kill_after = set(self.rng.sample(range(1, size.publishes), size.kills))
        for version in range(1, size.publishes + 1):
            self.publish(version)
            self.limits(version, size.limit_chance)
            time.sleep(self.rng.uniform(0, PUBLISH_GAP_SECONDS))
            if version in kill_after:
                self.kill_and_restart()
        self.site.emu.faults.clear()
        for environment in list(self.spent):
            self.restore_budget(environment)

    def converge(self, wanted: dict[str, str]) -> int:
        """Wait until every org serves its wanted build and the daemon has settled every
        doubt (or give up), SIGTERM the daemon and return its exit code, once requests still
        held by the emulator have landed.

        An org may serve the wanted build while a write that got no answer is still to land:
        the daemon says it is done with an org only once no connector is in doubt or waiting
        on a deploy.
        """
        with contextlib.suppress(AssertionError):  # what each org serves is reported later
            wait_until(
                lambda: (
                    all(self.site.live_sha256(env) == sha for env, sha in wanted.items())
                    and not unsettled(self.site.site.state_dir)
                ),
                CONVERGE_SECONDS,
                "convergence",
            )
        daemon = self.running()
        exit_code = daemon.stop(timeout=90)
        daemon.notify.close()
        time.sleep(HANG_SECONDS + 1)  # a held request is applied when its hold ends
        return exit_code


def tail(path: Path, lines: int = 40) -> str:
    """Return the last lines of a log file."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def served_version(body: bytes | None) -> int | None:
    """Return the `version` in a served body's settings.json, or None."""
    if body is None:
        return None
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return int(json.loads(archive.read("settings.json"))["version"])


def cli_build(site: SyncSite, environment: str, package: Path) -> bytes:
    """Return what `sfsync build` makes of a package for one connector."""
    output = site.site.root / "expected" / f"{environment}.zip"
    output.parent.mkdir(exist_ok=True)
    code, out, err = site.run(
        "build", "--connector", f"lightning/{environment}", "--package", str(package),
        "-o", str(output),
    )  # fmt: skip
    assert code == 0, out + err
    return output.read_bytes()


def every_build(site: SyncSite, published: dict[int, Path]) -> dict[str, dict[str, int]]:
    """Return, per environment, the SHA-256 of each published package's build -> its version."""
    loaded = load_config(site.site.config)
    limits = package_limits(loaded.config)
    return {
        connector.name.split("/", 1)[1]: {
            build_for_connector(connector, Package(path), limits).sha256: version
            for version, path in published.items()
        }
        for connector in loaded.connectors
    }


def unsettled(state_dir: Path) -> list[str]:
    """Return the connectors the store has in doubt or waiting on a deploy (read-only, so the
    running daemon's writes are never held up for long).
    """
    uri = f"file:{state_dir / 'state.sqlite3'}?mode=ro"
    database = sqlite3.connect(uri, uri=True, timeout=5)
    try:
        rows = database.execute(
            "SELECT connector FROM connectors"
            " WHERE recheck_after IS NOT NULL OR pending_deploy_id IS NOT NULL"
        ).fetchall()
    except sqlite3.OperationalError:  # busy past the timeout: ask again on the next poll
        return ["(state store busy)"]
    finally:
        database.close()
    return [connector for (connector,) in rows]


def read_state(state_dir: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Return the pushes table (by id) and the connectors table (by name)."""
    database = sqlite3.connect(state_dir / "state.sqlite3")
    database.row_factory = sqlite3.Row
    try:
        pushes = [dict(row) for row in database.execute("SELECT * FROM pushes ORDER BY id")]
        connectors = {
            row["connector"]: dict(row) for row in database.execute("SELECT * FROM connectors")
        }
    finally:
        database.close()
    return pushes, connectors


def history_gaps(
    pushes: list[dict[str, Any]], connectors: dict[str, dict[str, Any]], served: dict[str, str]
) -> list[str]:
    """Return every gap in the push history: missing ids, rows without a final outcome, a
    connector whose last pushed build is not its live build, or not what its org serves.
    """
    gaps = []
    ids = [row["id"] for row in pushes]
    if ids != list(range(1, len(ids) + 1)):
        gaps.append(f"push ids are not 1..{len(ids)}: {sorted(set(range(1, len(ids))) - set(ids))}")
    for row in pushes:
        if row["outcome"] not in FINAL_OUTCOMES or not row["finished_at"]:
            gaps.append(f"push {row['id']} ({row['connector']}) is still {row['outcome']!r}")
        elif row["finished_at"] < row["started_at"]:
            gaps.append(f"push {row['id']} ({row['connector']}) finished before it started")
    for environment, sha256 in served.items():
        name = f"lightning/{environment}"
        pushed = [row for row in pushes if row["connector"] == name and row["outcome"] == "pushed"]
        live = connectors.get(name, {}).get("live_sha256")
        if not pushed or pushed[-1]["sha256"] != live:
            gaps.append(f"{name}: the last pushed build is not live_sha256 {live}")
        if live != sha256:
            gaps.append(f"{name}: live_sha256 is {live}, the org serves {sha256}")
    return gaps


@dataclass
class BodyReport:
    """What the orgs' histories say about every body they ever held."""

    bodies: int = 0
    regressions: list[str] = field(default_factory=list)  # back from a newer package to an older
    problems: list[str] = field(default_factory=list)


def check_bodies(
    site: SyncSite, builds: dict[str, dict[str, int]], pushes: list[dict[str, Any]]
) -> BodyReport:
    """Return which bodies an org held were not a complete build of a published package for
    its connector, or were not recorded as pushed to it.
    """
    report = BodyReport()
    for environment, org in site.orgs.items():
        resource = org.static_resources.get(RESOURCE)
        name = f"lightning/{environment}"
        recorded = {row["sha256"] for row in pushes if row["connector"] == name}
        versions = []
        for sha256 in resource.history if resource is not None else []:
            report.bodies += 1
            if sha256 not in builds[environment]:
                report.problems.append(f"{name}: held {sha256[:12]}, not a build of a publish")
                continue
            if sha256 not in recorded:
                report.problems.append(f"{name}: held {sha256[:12]}, which no push recorded")
            versions.append(builds[environment][sha256])
        report.regressions += [
            f"{name}: v{old} then v{new}" for old, new in itertools.pairwise(versions) if new < old
        ]
    return report


def leaked_tokens(emu: Emulator, files: list[Path]) -> list[str]:
    """Return each token the emulator issued that appears in one of the files."""
    tokens = [token.encode() for token in emu.issued_tokens]
    found = []
    for path in files:
        data = path.read_bytes()
        found += [f"{path}: {token[:8]!r}..." for token in tokens if token in data]
    return found


def count_faults(site: SyncSite, tally: FaultTally) -> tuple[Counter[str], int]:
    """Return the faults injected so far by kind (the tally's, plus the API-limit refusals
    the orgs answered) and how many calls the tally's were drawn from.
    """
    faults, calls = tally.snapshot()
    for org in site.orgs.values():
        for entry in org.request_log:
            if entry.status == 403 and entry.api in {"rest", "tooling", "metadata"}:
                faults["api limit"] += 1
    return faults, calls


def last_results(log: Path) -> dict[str, str]:
    """Return each connector's last result in a daemon log, with its detail."""
    results = {}
    for raw in log.read_text(errors="replace").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            line = json.loads(raw)
            if line.get("event") == "connector result":
                results[line["connector"]] = f"{line['result']}: {line['detail']}"
    return results


@dataclass
class Outcome:
    """Everything the run is judged on, gathered after the daemon stopped."""

    size: Size
    seed: int
    chaos: Chaos
    faults: Counter[str]
    calls: int
    exit_code: int
    expected: dict[str, bytes]
    served: dict[str, bytes | None] = field(default_factory=dict)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    bodies: BodyReport = field(default_factory=BodyReport)
    leaks: list[str] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)

    @classmethod
    def gather(cls, site: SyncSite, **known: Any) -> Outcome:
        """Given the site after the run and what the run returned, check everything."""
        outcome = cls(**known)
        for environment, org in site.orgs.items():
            resource = org.static_resources.get(RESOURCE)
            outcome.served[environment] = resource.body if resource is not None else None
        outcome.pushes, connectors = read_state(site.site.state_dir)
        outcome.unsettled = unsettled(site.site.state_dir)
        shas = {
            env: hashlib.sha256(body).hexdigest() for env, body in outcome.served.items() if body
        }
        outcome.gaps = history_gaps(outcome.pushes, connectors, shas)
        builds = every_build(site, outcome.chaos.published)
        for environment, data in outcome.expected.items():  # the CLI and the daemon agree
            assert hashlib.sha256(data).hexdigest() in builds[environment]
        outcome.bodies = check_bodies(site, builds, outcome.pushes)
        state_files = [path for path in site.site.state_dir.rglob("*") if path.is_file()]
        outcome.leaks = leaked_tokens(site.emu, outcome.chaos.logs + state_files)
        return outcome

    @property
    def converged(self) -> list[str]:
        """Return the environments whose org serves exactly the newest package's build."""
        return [env for env, body in self.served.items() if body == self.expected[env]]

    def record(self, figures: Any, seconds: float) -> None:
        """Add the run's figures to the summary table, and print its one-line summary."""
        chaos, size = self.chaos, self.size
        injected = sum(self.faults.values())
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults.items()))
        converged = f"{len(self.converged)}/{len(self.expected)}"
        abandoned = sum(row["outcome"] == "abandoned" for row in self.pushes)
        limited = self.faults["api limit"]
        share = f"{(injected - limited) / max(self.calls, 1):.0%}"
        add = figures.add
        add("chaos", "seed / keyring", f"{self.seed} / {KEYRING}")
        add("chaos", "publishes", len(chaos.published), held=len(chaos.published) == size.publishes)
        add(
            "chaos",
            "faults injected",
            f"{injected}: {injected - limited} of {self.calls} calls ({share}) + {limited} limit",
        )
        add("chaos", "faults by kind", kinds)
        add("chaos", "API-limit windows", chaos.limit_windows)
        add("chaos", "kills (SIGKILL) and restarts", chaos.kills, held=chaos.kills == size.kills)
        add("chaos", "pushes abandoned by the kills", abandoned)
        add(
            "chaos",
            "converged connectors",
            converged,
            held=len(self.converged) == len(self.expected),
        )
        add(
            "chaos",
            "connectors left in doubt or on a deploy",
            len(self.unsettled),
            held=not self.unsettled,
        )
        add("chaos", "SIGTERM exit code", self.exit_code, held=self.exit_code == 0)
        add(
            "chaos",
            "history rows / gaps",
            f"{len(self.pushes)} / {len(self.gaps)}",
            held=not self.gaps,
        )
        add(
            "chaos",
            "org bodies not a recorded complete build",
            f"{len(self.bodies.problems)} of {self.bodies.bodies}",
            held=not self.bodies.problems,
        )
        add("chaos", "times an org went back to an older package", len(self.bodies.regressions))
        add("chaos", "tokens in logs or state files", len(self.leaks), held=not self.leaks)
        add("chaos", "run time", f"{seconds:.0f}s")
        print(  # noqa: T201
            f"chaos ({size.name}, seed {self.seed}, {KEYRING}): publishes {len(chaos.published)}, "
            f"faults {injected} ({kinds}; {share} of {self.calls} calls), kills {chaos.kills}, "
            f"converged {converged}, history {len(self.pushes)} rows, {len(self.gaps)} gaps, "
            f"{seconds:.0f}s"
        )
        if self.bodies.regressions:
            print(f"orgs that went back to an older package: {self.bodies.regressions}")  # noqa: T201


def test_chaos_converges_on_the_newest_package(
    site: SyncSite, tally: FaultTally, seed: int, size: Size, figures: Any
) -> None:
    """Publishes at random intervals, a fifth of all calls faulted, API budgets spent for a
    while and random SIGKILLs: once the faults stop, every connector serves exactly the newest
    package, every body ever pushed was a complete build, and the push history has no gaps.
    """
    started = time.monotonic()
    rng = random.Random(seed)  # noqa: S311 - a reproducible driver, not cryptography
    site.emu.faults.random(FAULT_RATE, FAULT_KINDS, seed=rng.randrange(2**31), seconds=HANG_SECONDS)
    chaos = Chaos(site, rng)
    try:
        chaos.start()
        chaos.storm(size)
        faults, calls = count_faults(site, tally)
        newest = chaos.published[size.publishes]
        expected = {env: cli_build(site, env, newest) for env in site.orgs}
        exit_code = chaos.converge(
            {env: hashlib.sha256(data).hexdigest() for env, data in expected.items()}
        )
    finally:
        if chaos.daemon is not None:
            chaos.daemon.kill()
    outcome = Outcome.gather(
        site,
        size=size,
        seed=seed,
        chaos=chaos,
        faults=faults,
        calls=calls,
        exit_code=exit_code,
        expected=expected,
    )
    outcome.record(figures, time.monotonic() - started)

    last_log = chaos.logs[-1]
    assert len(outcome.converged) == len(site.orgs), (
        f"not every org serves v{size.publishes}: "
        f"{ {env: served_version(body) for env, body in outcome.served.items()} }; the "
        f"daemon's last result per connector: {last_results(last_log)}"
    )
    assert exit_code == 0, tail(last_log)
    assert not outcome.gaps, outcome.gaps
    assert not outcome.bodies.problems, outcome.bodies.problems
    assert not outcome.leaks, outcome.leaks
    assert not outcome.unsettled, f"still in doubt or on a deploy: {outcome.unsettled}"
