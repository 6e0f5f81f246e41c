"""One sync cycle: read each system's source once, build per connector as its push slot comes,
decide, push what changed with bounded concurrency, and isolate every failure to its connector.

A connector whose build inputs are those of a build already made (the same key, see
`package.build_key`) is decided on that build's hash first, in the cycle's own thread; only
when the decision needs the bytes (a push, a check of the org, a deploy to settle) is it built.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import structlog

from sfsync import __version__
from sfsync.clock import epoch_seconds, utc_now
from sfsync.config import Connector, LoadedConfig
from sfsync.errors import (
    ExitStatus,
    NothingPublishedError,
    PackageError,
    SfsyncError,
    StateError,
)
from sfsync.files import make_private_directories
from sfsync.locks import push_lock_path
from sfsync.package.build import (
    BuildOptions,
    BuiltPackage,
    PreparedPackage,
    build_prepared,
    prepare_package,
)
from sfsync.package.build_key import build_key
from sfsync.package.cache import CompressionCache
from sfsync.package.limits import PackageLimits, package_limits
from sfsync.package.read import read_package
from sfsync.package.version import source_version
from sfsync.salesforce.session import ConnectorSession
from sfsync.sources.source import Look, Source
from sfsync.state.packages import PackageArchive
from sfsync.state.proofs import TokenProofs
from sfsync.state.records import BuildKey, ConnectorState
from sfsync.state.store import StateStore
from sfsync.sync.plan import (
    Action,
    Decision,
    authorization_usable,
    decide,
    fresh_usage,
    gate_of,
    needs_build,
    recorded_build,
)
from sfsync.sync.push import Pusher, PushOutcome
from sfsync.sync.push_lock import PushLock, PushLockBusy
from sfsync.sync.result import Result, worst_exit_status
from sfsync.sync.usage import UsageBook
from sfsync.tokens.record import StoredAuthorization
from sfsync.tokens.snapshot import TokenSnapshot
from sfsync.tokens.store import TokenStore

log = structlog.get_logger("sfsync.sync")


@dataclass(frozen=True)
class ConnectorResult:
    """What the cycle did with one connector, for the summary, status and metrics."""

    connector: str
    outcome: Result
    detail: str
    sha256: str | None = None
    size: int | None = None
    seconds: float | None = None
    # An earlier write's outcome is unknown: check the org again in this many seconds.
    recheck_in: float | None = None


@dataclass(frozen=True)
class CycleReport:
    """Every connector's result, in config order."""

    results: tuple[ConnectorResult, ...]

    def exit_status(self) -> ExitStatus:
        """Return the cycle's exit status: a refused package (2) outranks a connector needing
        authorization (3), which outranks a failed push (1).
        """
        return worst_exit_status([result.outcome for result in self.results])


@dataclass
class CycleDeps:
    """The seams of a cycle, each with its production default where one exists."""

    loaded: LoadedConfig
    store: StateStore
    archive: PackageArchive
    tokens: TokenStore
    session_for: Callable[[Connector], ConnectorSession]
    # Each system's source, by system name (see `sources.open.open_sources`).
    sources: Mapping[str, Source]
    clock: Callable[[], datetime] = utc_now
    epoch: Callable[[], float] = epoch_seconds
    cache: CompressionCache | None = None
    # The last API usage each connector's org reported, and when (epoch seconds).
    usage: UsageBook = field(default_factory=UsageBook)
    on_result: Callable[[ConnectorResult], None] | None = None
    # Shared by every cycle of a daemon, so that `daemon.concurrency` bounds pushes across
    # systems too; None: each wave is bounded on its own.
    push_slots: threading.BoundedSemaphore | None = None
    # Set (by the CLI's SIGINT handler) to stop: connectors not started are not started, and
    # those in flight are reported interrupted without waiting for them.
    interrupted: threading.Event | None = None
    # How long to wait for another process's push to a connector before reporting it busy;
    # None: the `[salesforce] timeout`.
    busy_wait_seconds: float | None = None
    # The sessions' successful token grants, written to the store when the cycle ends.
    proofs: TokenProofs | None = None


# The log event of each connector's result (the daemon's report; the CLI prints a table).
RESULT_EVENT = "connector result"


@dataclass(frozen=True)
class _Source:
    """A system's package for one cycle: read, validated and prepared once for all its
    connectors (the published files compressed once; each connector adds its own entries).
    """

    prepared: PreparedPackage
    version: str
    limits: PackageLimits
    package: Path  # the published file or folder it was read from, for the log


@dataclass(frozen=True)
class _Job:
    connector: Connector
    source: _Source
    options: BuildOptions
    key: str  # of the build's inputs (`build_key`)


@dataclass(frozen=True)
class _Build:
    connector: Connector
    built: BuiltPackage
    source_version: str
    source_file: str


def run_cycle(
    deps: CycleDeps,
    pusher: Pusher,
    *,
    only: Collection[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    looks: Mapping[str, Look] | None = None,
    tokens: TokenSnapshot | None = None,
) -> CycleReport:
    """Given the cycle's dependencies and a pusher, run one cycle over the selected connectors
    (all when `only` is None) and return what happened to each.

    `looks` holds what the caller already saw at some systems' sources (the daemon looks before
    it decides to run a cycle); the others are looked at now. `tokens` is the caller's snapshot
    of the selected connectors' authorizations, when it reads them again after the cycle.
    With `dry_run`, build and decide but call no API and change no state.
    """
    selected = [c for c in deps.loaded.connectors if only is None or c.name in only]
    # The keyring is read once for the whole cycle; a new authorization counts from the next.
    tokens = tokens or TokenSnapshot(deps.tokens, [c.name for c in selected])
    deps = replace(deps, tokens=tokens)
    results: dict[str, ConnectorResult] = {}

    systems = {connector.name: connector.system for connector in selected}

    def report(result: ConnectorResult, package: Path | None) -> None:
        results[result.connector] = result
        log.log(
            result.outcome.level,
            RESULT_EVENT,
            connector=result.connector,
            system=systems[result.connector],
            package=str(package) if package is not None else None,
            result=result.outcome.value,
            detail=result.detail,
            sha256=result.sha256,
        )
        if deps.on_result is not None:
            deps.on_result(result)

    # The daemon looked at the sources before it asked for this cycle, so there is work: the
    # keyring pass (mostly waiting on the keyring's process) runs while the package is read.
    early = _read_tokens_meanwhile(tokens) if looks is not None else None
    try:
        jobs = _read_sources(deps, selected, report, looks or {})
        _finish_token_pass(tokens, early, needed=bool(jobs))
        for wave in _waves([job.connector for job in jobs.values()]):
            if deps.interrupted is not None and deps.interrupted.is_set():
                for connector in wave:
                    report(
                        ConnectorResult(connector.name, Result.INTERRUPTED, _NOT_STARTED),
                        jobs[connector.name].source.package,
                    )
                continue
            batch, states = _settle_unbuilt_wave(
                deps, [jobs[c.name] for c in wave], report, dry_run=dry_run, force=force
            )
            if not batch:
                continue
            _run_wave(deps, pusher, batch, report, dry_run=dry_run, force=force)
            if not dry_run:
                _record_build_keys(deps, batch, results, states)
    finally:
        if not dry_run:
            write_proofs(deps)
    return CycleReport(tuple(results[c.name] for c in selected if c.name in results))


def _read_tokens_meanwhile(tokens: TokenSnapshot) -> threading.Thread:
    """Start the snapshot's keyring pass in a thread of its own; return the thread. A failure
    is left to the pass the cycle makes again (and reports) when it needs the tokens.
    """

    def read() -> None:
        # Whatever went wrong happens again in the cycle's own pass, which reports it.
        with contextlib.suppress(Exception):
            tokens.read()

    thread = threading.Thread(target=read, name="tokens", daemon=True)
    thread.start()
    return thread


def _finish_token_pass(
    tokens: TokenSnapshot, early: threading.Thread | None, *, needed: bool
) -> None:
    """Wait for the early keyring pass, if one was started; when the cycle has work, make the
    pass now if it is not made yet. Made by the first push thread instead, the pass competed
    with every other thread for the GIL while they all waited for it. A failure is left for
    each connector's decision to report.
    """
    if early is not None:
        early.join()
    if needed:
        with contextlib.suppress(SfsyncError):
            tokens.read()


def write_proofs(deps: CycleDeps) -> None:
    """Write the token grants the sessions noted to the state store, in one transaction; a
    store that refuses loses them (logged): the keep-alive then refreshes early, harmlessly.
    """
    if deps.proofs is None:
        return
    try:
        deps.proofs.write_to(deps.store)
    except StateError as error:
        log.warning("token proofs not written", error=str(error))


def _run_wave(
    deps: CycleDeps,
    pusher: Pusher,
    batch: list[_Job],
    report: Callable[[ConnectorResult, Path | None], None],
    *,
    dry_run: bool,
    force: bool,
) -> None:
    """Given the jobs of one wave that need their build, build, decide and push them with
    bounded concurrency, reporting each result in the batch's order.
    """
    jobs = {job.connector.name: job for job in batch}
    concurrency = max(1, min(deps.loaded.config.daemon.concurrency, len(batch)))
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="push")
    try:
        futures = [
            (
                job.connector.name,
                pool.submit(_run_connector, deps, pusher, job, dry_run=dry_run, force=force),
            )
            for job in batch
        ]
        for name, future in futures:
            report(_outcome_of(name, future, deps.interrupted), jobs[name].source.package)
    finally:
        # Interrupted: the caller exits without waiting for pushes in flight (the store
        # marks them abandoned at the next start, as after a kill).
        stopping = deps.interrupted is not None and deps.interrupted.is_set()
        pool.shutdown(wait=not stopping, cancel_futures=True)


def _names_to_read(wave: list[Connector]) -> list[str]:
    """Given a wave's connectors, return the names whose states its decisions read: theirs
    and their gates' required connectors'.
    """
    gates = [gate.requires for gate in map(gate_of, wave) if gate is not None]
    return [connector.name for connector in wave] + gates


def _settle_unbuilt_wave(
    deps: CycleDeps,
    wave: list[_Job],
    report: Callable[[ConnectorResult, Path | None], None],
    *,
    dry_run: bool,
    force: bool,
) -> tuple[list[_Job], Mapping[str, ConnectorState]]:
    """Given a wave's jobs, read their states and report each one `_settle_unbuilt` settles;
    return the others, which must be built, and the states read (none if the read failed).

    A state store or keyring that fails here leaves the connector to be built: its own reads
    then report the failure on it, as they did before any was settled here.
    """
    try:
        # Read after the waves before pushed: a gate's required connector is in one of them.
        states = deps.store.connectors(_names_to_read([job.connector for job in wave]))
    except SfsyncError:
        return wave, {}
    to_build: list[_Job] = []
    for job in wave:
        try:
            settled = _settle_unbuilt(deps, job, states, dry_run=dry_run, force=force)
        except SfsyncError:
            settled = None
        if settled is None:
            to_build.append(job)
        else:
            report(settled, job.source.package)
    return to_build, states


def _settle_unbuilt(
    deps: CycleDeps,
    job: _Job,
    states: Mapping[str, ConnectorState],
    *,
    dry_run: bool,
    force: bool,
) -> ConnectorResult | None:
    """Given a connector's job and the states read for its wave, return its result when its
    build inputs are those of a build already made and the decision on that build's hash is
    the whole outcome (no bytes, no API call, no write); return None when it must be built.

    Taken without the push lock: it changes nothing, and what it reports is the state as the
    wave began, as the token snapshot is the keyring as the cycle began.
    """
    connector = job.connector
    started = time.monotonic()
    if deps.interrupted is not None and deps.interrupted.is_set():
        return ConnectorResult(connector.name, Result.INTERRUPTED, _NOT_STARTED)
    state = states[connector.name]
    known = recorded_build(state, job.key)
    # A token from another org makes the push path forget what was live there: a write.
    if known is None or (
        not dry_run and _org_to_note(deps.tokens.get(connector.name), state) is not None
    ):
        return None
    gate = gate_of(connector)
    decision = _decide(
        deps,
        connector,
        sha256=known.sha256,
        content_sha256=job.source.prepared.content_sha256,
        state=state,
        required_state=states.get(gate.requires) if gate is not None else None,
        force=force,
    )
    if needs_build(decision.action):
        return None
    outcome = _planned(decision) if dry_run else _without_api(decision, state)
    return ConnectorResult(
        connector=connector.name,
        outcome=outcome.outcome,
        detail=outcome.detail,
        sha256=known.sha256,
        size=known.size,
        seconds=time.monotonic() - started,
        recheck_in=None if dry_run else _recheck_in(deps, outcome),
    )


def _record_build_keys(
    deps: CycleDeps,
    batch: list[_Job],
    results: Mapping[str, ConnectorResult],
    states: Mapping[str, ConnectorState],
) -> None:
    """Given a wave's built jobs, their results and the states read before, remember what each
    connector's inputs built to where the store did not know it yet, in one transaction; a
    failure only costs the next cycle those builds again.
    """
    fresh: dict[str, BuildKey] = {}
    for job in batch:
        name = job.connector.name
        result = results.get(name)
        # A result carries the hash and size of the build it made, if it made one.
        if result is None or result.sha256 is None or result.size is None:
            continue
        build = BuildKey(job.key, result.sha256, result.size)
        known = states.get(name)
        if known is None or known.build != build:
            fresh[name] = build
    try:
        deps.store.record_build_keys(fresh)
    except SfsyncError as error:
        log.warning("build keys not recorded; the next cycle builds again", error=str(error))


_NOT_STARTED = "interrupted before it started; the next sync pushes it"
_IN_FLIGHT = "interrupted while in progress; the next sync checks what reached the org"
# How often a wait for a connector looks whether the run was interrupted.
_INTERRUPT_POLL_SECONDS = 0.1


def _outcome_of(
    name: str, future: Future[ConnectorResult], interrupted: threading.Event | None
) -> ConnectorResult:
    """Given a connector's running job, return its result: once it finishes, or at once as
    `interrupted` when the run is interrupted first.
    """
    while True:
        if interrupted is not None and interrupted.is_set():
            if future.cancel():
                return ConnectorResult(name, Result.INTERRUPTED, _NOT_STARTED)
            if not future.done():
                return ConnectorResult(name, Result.INTERRUPTED, _IN_FLIGHT)
        try:
            return future.result(timeout=None if interrupted is None else _INTERRUPT_POLL_SECONDS)
        except TimeoutError:
            continue


def _read_sources(
    deps: CycleDeps,
    selected: list[Connector],
    report: Callable[[ConnectorResult, Path | None], None],
    looks: Mapping[str, Look],
) -> dict[str, _Job]:
    """Read and prepare each system's package once; return a job per selected connector whose
    system has one (the others are reported waiting, invalid or failed).

    Each connector's package is built later, under its push slot, and dropped once pushed:
    holding every connector's ZIP until the cycle ends cost a package's size per connector.
    """
    limits = package_limits(deps.loaded.config)
    jobs: dict[str, _Job] = {}
    by_system: dict[str, list[Connector]] = {}
    for connector in selected:
        by_system.setdefault(connector.system, []).append(connector)
    for system, connectors in by_system.items():
        package: Path | None = None  # until the source names one
        try:
            look = looks.get(system) or deps.sources[system].look(deps.epoch())
            found = look.ready()
            package = found.path
            published = read_package(found.path, limits)
            version = found.version or source_version(found.path, published)
            prepared = prepare_package(published, deps.cache)
        except SfsyncError as error:
            for connector in connectors:
                report(ConnectorResult(connector.name, _result_of(error), str(error)), package)
            continue
        source = _Source(prepared, version, limits, found.path)
        for connector in connectors:
            options = BuildOptions(
                connector=connector.name,
                overrides=connector.overrides,
                source_version=version,
                sfsync_version=__version__,
                settings_file=connector.settings_file,
                limits=limits,
            )
            key = build_key(prepared.content_sha256, options)
            jobs[connector.name] = _Job(connector, source, options, key)
    return jobs


def _build(job: _Job) -> BuiltPackage:
    """Given a connector's job, return its package; raise PackageError if it is refused."""
    # No cache for the connector's own entries: a few hundred bytes each, compressed in
    # microseconds, while putting them would write a pack per connector.
    return build_prepared(job.source.prepared, job.options)


def _result_of(error: SfsyncError) -> Result:
    """Given why a source could not give a package, return the connectors' result."""
    if isinstance(error, NothingPublishedError):
        return Result.WAITING
    if isinstance(error, PackageError):
        return Result.INVALID
    return Result.FAILED


def _waves(connectors: list[Connector]) -> Iterable[list[Connector]]:
    """Yield connectors in waves: each gated connector after the one its gate requires, so a
    gate with no soak opens in the same cycle the content goes live upstream.
    """
    remaining = list(connectors)
    placed: set[str] = set()
    names = {connector.name for connector in connectors}
    while remaining:
        wave = [
            connector
            for connector in remaining
            if connector.requires is None
            or f"{connector.system}/{connector.requires}" not in names
            or f"{connector.system}/{connector.requires}" in placed
        ]
        if not wave:  # a loop the config check refuses; never spin on it
            wave = remaining
        yield wave
        placed |= {connector.name for connector in wave}
        remaining = [connector for connector in remaining if connector.name not in placed]


def _decide_built(deps: CycleDeps, job: _Build, state: ConnectorState, *, force: bool) -> Decision:
    """Given a connector's build and its state as read for this cycle, decide what to do."""
    gate = gate_of(job.connector)
    return _decide(
        deps,
        job.connector,
        sha256=job.built.sha256,
        content_sha256=job.built.content_sha256,
        state=state,
        required_state=deps.store.connector(gate.requires) if gate is not None else None,
        force=force,
    )


def _decide(
    deps: CycleDeps,
    connector: Connector,
    *,
    sha256: str,
    content_sha256: str,
    state: ConnectorState,
    required_state: ConnectorState | None,
    force: bool,
) -> Decision:
    """Given a connector, the hashes of its build and of the published content, its state and
    its gate's required connector's state, decide what to do.
    """
    gate = gate_of(connector)
    usage = fresh_usage(deps.usage.get(connector.name), deps.epoch())
    record = deps.tokens.get(connector.name)
    return decide(
        connector=connector.name,
        built_sha256=sha256,
        built_content_sha256=content_sha256,
        state=state,
        gate=gate,
        required_state=required_state,
        authorized=authorization_usable(state, record.issued_at if record else None),
        api_usage=usage,
        api_usage_ceiling=deps.loaded.config.salesforce.api_usage_ceiling,
        now=deps.clock(),
        force=force,
    )


def _run_connector(
    deps: CycleDeps, pusher: Pusher, job: _Job, *, dry_run: bool, force: bool
) -> ConnectorResult:
    """Build, decide and, if needed, push one connector; never raise (failures are results).

    The build happens under the push slot, so at most `daemon.concurrency` packages are held
    at once, and is dropped on return: the result keeps its hash and size only.
    """
    connector = job.connector
    if deps.interrupted is not None and deps.interrupted.is_set():
        return ConnectorResult(connector.name, Result.INTERRUPTED, _NOT_STARTED)
    lock = PushLock(_push_lock_path(deps.loaded.config.daemon.state_dir, connector.name))
    started = time.monotonic()
    patience = (
        deps.busy_wait_seconds
        if deps.busy_wait_seconds is not None
        else deps.loaded.config.salesforce.timeout.total_seconds()
    )
    slots = deps.push_slots or contextlib.nullcontext()
    built: BuiltPackage | None = None
    try:
        while True:
            try:
                with slots:
                    try:
                        built = _build(job)
                    except PackageError as error:
                        return ConnectorResult(connector.name, Result.INVALID, str(error))
                    with lock:
                        outcome = _decide_and_push(
                            deps,
                            pusher,
                            _Build(connector, built, job.source.version, str(job.source.package)),
                            dry_run=dry_run,
                            force=force,
                        )
                break
            except PushLockBusy:
                # Another process (a cron sync, the daemon) is pushing here: wait for it, out
                # of the push slot, then decide again: what it pushed is likely ours too.
                if not _wait_until_free(deps, lock, connector, started + patience):
                    if deps.interrupted is not None and deps.interrupted.is_set():
                        return ConnectorResult(connector.name, Result.INTERRUPTED, _NOT_STARTED)
                    outcome = PushOutcome(
                        Result.BUSY,
                        f"another sfsync process was still pushing to this connector after "
                        f"{patience:g}s ([salesforce] timeout); the next run tries again",
                    )
                    break
    except SfsyncError as error:
        outcome = PushOutcome(Result.FAILED, str(error))
    except Exception as error:  # one connector's bug must not stop the others
        log.exception("push crashed", connector=connector.name)
        outcome = PushOutcome(Result.FAILED, f"internal error: {type(error).__name__}: {error}")
    return ConnectorResult(
        connector=connector.name,
        outcome=outcome.outcome,
        detail=outcome.detail,
        sha256=built.sha256 if built is not None else None,
        size=built.size if built is not None else None,
        seconds=time.monotonic() - started,
        recheck_in=None if dry_run else _recheck_in(deps, outcome),
    )


def _wait_until_free(
    deps: CycleDeps, lock: PushLock, connector: Connector, deadline: float
) -> bool:
    """Given a connector's push lock held by another process, wait until it is free or the
    deadline (monotonic) passes; return whether it came free. Give up early if interrupted.
    """
    log.info("connector busy; waiting for the other push", connector=connector.name)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (deps.interrupted is not None and deps.interrupted.is_set()):
            return False
        try:
            with lock.acquire(timeout=min(remaining, _INTERRUPT_POLL_SECONDS * 10)):
                return True
        except PushLockBusy:
            continue


def _recheck_in(deps: CycleDeps, outcome: PushOutcome) -> float | None:
    """Given a connector's outcome, return in how many seconds its org should be checked
    because an earlier write's outcome is unknown (None: no need, or another wait applies).
    """
    # Only these leave the build live and the connector otherwise idle; failures back off and
    # waiting states have their own follow-ups, which end in one of these.
    if outcome.outcome not in {Result.PUSHED, Result.UNCHANGED}:
        return None
    if outcome.recheck_after is None:
        return None
    # At least a second, so that clocks a hair apart never spin a daemon on it.
    return max(1.0, (outcome.recheck_after - deps.clock()).total_seconds())


def _decide_and_push(
    deps: CycleDeps, pusher: Pusher, job: _Build, *, dry_run: bool, force: bool
) -> PushOutcome:
    """Given a connector's build, read its state once, decide, and push (or check) with the
    state the decision was made on; the outcome carries the doubt left after it.
    """
    connector = job.connector
    state = deps.store.connector(connector.name)
    if not dry_run and _note_org(deps, connector, state):
        # What was known of the old org is forgotten: plan with what the store has now.
        state = deps.store.connector(connector.name)
    decision = _decide_built(deps, job, state, force=force)
    if dry_run:
        return _planned(decision)
    if decision.action == Action.DEPLOY_PENDING:
        pending = pusher.settle_pending_deploy(connector, deps.session_for(connector), state=state)
        if pending is not None:
            return pending
        # The deploy's end was recorded (live build, or error): plan anew from that.
        state = deps.store.connector(connector.name)
        decision = _decide_built(deps, job, state, force=force)
    if decision.action == Action.RECHECK:
        return pusher.recheck(
            connector,
            job.built,
            job.source_version,
            deps.session_for(connector),
            state=state,
            source_file=job.source_file,
        )
    if decision.action != Action.PUSH:
        return _without_api(decision, state)
    return pusher.push(
        connector,
        job.built,
        job.source_version,
        deps.session_for(connector),
        state=state,
        source_file=job.source_file,
    )


def _note_org(deps: CycleDeps, connector: Connector, state: ConnectorState) -> bool:
    """Given a connector and its state, forget what was live on it when its token now belongs
    to another org (a refreshed sandbox holds production's copy of the resource, not ours), so
    it is pushed again; return whether the state was forgotten.
    """
    org_id = _org_to_note(deps.tokens.get(connector.name), state)
    if org_id is None or not deps.store.note_org(connector.name, org_id):
        return False
    log.warning(
        "org changed; pushing again",
        connector=connector.name,
        org_id=org_id,
        hint="a sandbox refresh gives the org a new id and production's resources",
    )
    return True


def _org_to_note(record: StoredAuthorization | None, state: ConnectorState) -> str | None:
    """Given a connector's authorization and state, return the authorization's org when the
    state was not learnt in it (it is to be recorded, and what was live there forgotten), else
    None.
    """
    if record is None or record.org_id is None or state.org_id == record.org_id:
        return None
    return record.org_id


def _without_api(decision: Decision, state: ConnectorState) -> PushOutcome:
    """The outcome of a decision that calls no API, with the doubt the state still holds."""
    return PushOutcome(
        _AS_RESULT[decision.action], decision.reason, recheck_after=state.recheck_after
    )


def _planned(decision: Decision) -> PushOutcome:
    """What a dry run reports for a decision."""
    if decision.action == Action.PUSH:
        return PushOutcome(Result.PLANNED, f"would push: {decision.reason}")
    if decision.action == Action.RECHECK:
        return PushOutcome(Result.PLANNED, f"would check the org: {decision.reason}")
    return PushOutcome(_AS_RESULT[decision.action], decision.reason)


# The result of a decision that calls no API (push and recheck end in the pusher's outcome).
_AS_RESULT = {
    Action.UNCHANGED: Result.UNCHANGED,
    Action.GATED: Result.GATED,
    Action.PAUSED: Result.PAUSED,
    Action.NEEDS_AUTHORIZATION: Result.NEEDS_AUTHORIZATION,
    Action.DEPLOY_PENDING: Result.DEPLOY_PENDING,
    Action.DEFERRED: Result.DEFERRED,
}


def _push_lock_path(state_dir: Path, connector: str) -> Path:
    path = push_lock_path(state_dir, connector)
    make_private_directories(path.parent)
    return path
