"""One configuration's worth of daemon: the sync runtime, the APScheduler jobs that drive it,
and the drop-folder watchers. A reload replaces the whole Service; metrics and the HTTP
endpoint outlive it (see `main.py`).

Work is per system: a source check reads the system's source once and runs one sync cycle:
for every connector if something new is there, else for the connectors whose pending work is
due (a failure whose backoff is over, a closed gate, a deferral; see `pending.py`). Checks are
jobs, so retries are scheduled, not slept, and the periodic re-scan, a check like any other,
cannot retry a connector before its backoff allows.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Hashable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from sfsync.actions.sync import SyncRuntime, open_runtime
from sfsync.actions.wiring import auth_deps
from sfsync.clock import epoch_seconds, utc_now
from sfsync.config import Connector, LoadedConfig
from sfsync.config.schema import DirSource, HttpSource
from sfsync.daemon.backoff import retry_delay
from sfsync.daemon.health import ConnectorHealth, health
from sfsync.daemon.memory import release_free_memory
from sfsync.daemon.metrics import Metrics
from sfsync.daemon.notify import Notifier
from sfsync.daemon.pending import (
    Pending,
    after_result,
    connectors_to_check,
    next_check_in,
)
from sfsync.daemon.watch import FolderWatcher
from sfsync.errors import AuthorizationError, NothingPublishedError, SfsyncError
from sfsync.salesforce.api_kind import api_of
from sfsync.salesforce.keepalive import keep_alive
from sfsync.salesforce.limits import parse_limit_info
from sfsync.salesforce.retry import RetryPolicy
from sfsync.sources.candidates import choose_package
from sfsync.sources.directory import list_candidates
from sfsync.sources.located import Located
from sfsync.sync.cycle import ConnectorResult, CycleReport, run_cycle
from sfsync.sync.plan import authorization_usable
from sfsync.sync.result import Result
from sfsync.tokens.snapshot import TokenSnapshot
from sfsync.tokens.store import TokenStore

log = structlog.get_logger("sfsync.daemon")
T = TypeVar("T")

KEEPALIVE_CHECK_SECONDS = 3600.0
HEARTBEAT_SECONDS = 5.0
# In-push retries stay short: longer trouble becomes a scheduled retry of the connector.
DAEMON_RETRY = RetryPolicy(attempts=2, base_seconds=0.5, cap_seconds=1.0)


@dataclass
class _SystemWork:
    """What the daemon remembers about one system between checks."""

    connectors: tuple[Connector, ...]
    signature: Hashable | None = None  # what the source offered when last synced
    # Each connector's unfinished work (a backoff, a follow-up); absent: nothing pending.
    pending: dict[str, Pending] = field(default_factory=dict)
    # The last look at the source failed (or the check crashed): the next good look runs
    # every connector, as if what the source offers were new.
    look_again: bool = False
    failures: int = 0  # source checks in a row that failed
    dirty: bool = False  # a check was asked for while one ran
    lock: threading.Lock = field(default_factory=threading.Lock)


class Service:
    """The scheduler, its jobs and the watchers for one loaded config."""

    def __init__(
        self,
        loaded: LoadedConfig,
        metrics: Metrics,
        notifier: Notifier,
        *,
        draw: Callable[[], float] = random.random,
        release_memory: Callable[[], object] = release_free_memory,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.loaded = loaded
        self._metrics = metrics
        self._notifier = notifier
        self._draw = draw
        self._monotonic = monotonic
        self._release_memory = release_memory
        self._stack = ExitStack()
        self._runtime: SyncRuntime | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._watcher: FolderWatcher | None = None
        self._unwatched: dict[str, DirSource] = {}  # folders inotify could not watch yet
        self._stopping = False
        self._busy = threading.Condition()
        self._running_checks = 0
        self._trigger_lock = threading.Lock()
        self._last: dict[str, ConnectorResult] = {}
        self._authorized: dict[str, bool] = {}
        self._last_push: tuple[str, float] | None = None
        systems: dict[str, list[Connector]] = {}
        for connector in loaded.connectors:
            systems.setdefault(connector.system, []).append(connector)
        self._systems = {name: _SystemWork(tuple(items)) for name, items in systems.items()}

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the runtime, start the scheduler and watchers, and check every source once.

        Raise SfsyncError (e.g. no usable keyring) with nothing left running.
        """
        config = self.loaded.config
        try:
            auth = auth_deps(self.loaded)
            auth.on_response = self._on_response
            auth.on_refresh = self._on_refresh
            self._runtime = self._stack.enter_context(
                open_runtime(
                    self.loaded,
                    on_result=self._on_result,
                    auth=auth,
                    retry=DAEMON_RETRY,
                    push_slots=threading.BoundedSemaphore(config.daemon.concurrency),
                )
            )
            tokens = TokenSnapshot(
                self._runtime.deps.tokens, [c.name for c in self.loaded.connectors]
            )
            for connector in self.loaded.connectors:
                self._metrics.track_connector(connector.name)
                self._refresh_authorized(connector, tokens)
            self._scheduler = self._new_scheduler()
            self._watcher = FolderWatcher()
            # Started before any folder is watched, so that a folder that cannot be watched
            # (missing, unreadable) fails its own watch, not the start of the whole daemon.
            self._watcher.start()
            for system, work in self._systems.items():
                source = work.connectors[0].source
                if isinstance(source, DirSource):
                    self._watch(self._watcher, system, source)
                else:
                    self._add_interval(f"poll:{system}", source.poll.total_seconds(), system)
            self._scheduler.add_job(
                self._heartbeat,
                "interval",
                seconds=self._heartbeat_seconds(),
                id="heartbeat",
                executor="heartbeat",
            )
            self._scheduler.add_job(
                self._keepalive,
                "interval",
                seconds=KEEPALIVE_CHECK_SECONDS,
                id="keepalive",
                next_run_time=datetime.now(UTC) + timedelta(seconds=10),
            )
            self._scheduler.start()
        except BaseException:
            self._close_parts()
            raise
        for system in self._systems:
            self.trigger(system)

    def stop(self, grace_seconds: float) -> bool:
        """Stop starting work, let running checks finish for up to `grace_seconds`, and close
        what finished. Return whether everything finished in time (if not, the caller exits
        and the next start marks the interrupted pushes abandoned).
        """
        self._stopping = True
        self._close_parts()
        with self._busy:
            finished = self._busy.wait_for(lambda: self._running_checks == 0, grace_seconds)
        if finished:
            self._stack.close()
        return finished

    def _close_parts(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    @property
    def scheduler_running(self) -> bool:
        """Return whether the scheduler's loop is alive."""
        scheduler = self._scheduler
        return scheduler is not None and scheduler.running and not self._stopping

    # -- triggering checks ------------------------------------------------------------------

    def trigger(self, system: str, delay: float = 0.0) -> None:
        """Ask for a check of `system` in `delay` seconds; an earlier pending check wins, so a
        burst of events becomes one check.
        """
        scheduler = self._scheduler
        if scheduler is None or self._stopping:
            return
        run_at = datetime.now(UTC) + timedelta(seconds=max(0.0, delay))
        job_id = f"check:{system}"
        with self._trigger_lock:
            job = scheduler.get_job(job_id)
            if job is not None and job.next_run_time is not None and job.next_run_time <= run_at:
                return
            scheduler.add_job(
                self._check,
                "date",
                run_date=run_at,
                args=[system],
                id=job_id,
                replace_existing=True,
            )

    def _watch(self, watcher: FolderWatcher, system: str, source: DirSource) -> None:
        try:
            watcher.watch(source.path, lambda: self.trigger(system))
        except OSError as error:
            # The folder may appear later: each re-scan tries the watch again, and finds what
            # was published there meanwhile.
            self._unwatched[system] = source
            log.warning(
                "cannot watch the source folder; the re-scan will find what is published",
                system=system,
                error=str(error),
                rescan_seconds=source.rescan.total_seconds(),
            )
        self._add_interval(f"rescan:{system}", source.rescan.total_seconds(), system, self._rescan)

    def _rescan(self, system: str) -> None:
        source = self._unwatched.get(system)
        if source is not None and self._watcher is not None and not self._stopping:
            try:
                self._watcher.watch(source.path, lambda: self.trigger(system))
            except OSError:
                pass  # still missing or unreadable: said once at start, the re-scan goes on
            else:
                del self._unwatched[system]
                log.info("watching the source folder", system=system, folder=str(source.path))
        self.trigger(system)

    def _add_interval(
        self,
        job_id: str,
        seconds: float,
        system: str,
        job: Callable[[str], None] | None = None,
    ) -> None:
        self._started(self._scheduler).add_job(
            job or self.trigger, "interval", seconds=seconds, args=[system], id=job_id
        )

    @staticmethod
    def _started(part: T | None) -> T:
        if part is None:
            raise RuntimeError("the service has not been started")
        return part

    # -- a check ------------------------------------------------------------------------------

    def _check(self, system: str) -> None:
        work = self._systems[system]
        if not work.lock.acquire(blocking=False):
            work.dirty = True  # the running check looks again when it ends
            return
        with self._busy:
            self._running_checks += 1
        try:
            while not self._stopping:
                work.dirty = False
                self._check_once(system, work)
                if not work.dirty:
                    break
        except Exception:
            log.exception("source check crashed", system=system)
            self._after_failure(system, work)
        finally:
            work.lock.release()
            with self._busy:
                self._running_checks -= 1
                self._busy.notify_all()

    def _check_once(self, system: str, work: _SystemWork) -> None:
        source = work.connectors[0].source
        try:
            located, signature, wait = self._look(system, source)
        except NothingPublishedError as error:
            self._metrics.record_source_check(system, "waiting")
            # A source that cannot be read yet: a warning (SPEC section 10).
            log.warning("nothing published yet", system=system, detail=str(error))
            return
        except SfsyncError as error:
            self._metrics.record_source_check(system, "failed")
            log.warning("source check failed", system=system, error=str(error))
            for connector in work.connectors:
                self._on_result(ConnectorResult(connector.name, Result.FAILED, str(error)))
            self._after_failure(system, work)
            return
        if wait is not None:
            self._metrics.record_source_check(system, "settling")
            self.trigger(system, wait)
            return
        changed = signature != work.signature
        self._metrics.record_source_check(system, "new" if changed else "same")
        if located is None:  # a signature without a package: nothing to build
            return
        chosen = connectors_to_check(
            work.pending,
            [connector.name for connector in work.connectors],
            new=changed or work.look_again,
            now=self._monotonic(),
        )
        if not chosen:
            # Nothing new and nothing due: this check may have displaced the one scheduled
            # for the earliest pending work, so schedule that again.
            self._schedule_pending(system, work)
            return
        runtime = self._started(self._runtime)
        # One keyring pass for the cycle and the authorized gauges after it.
        tokens = TokenSnapshot(runtime.deps.tokens, chosen)
        deps = replace(runtime.deps, locate=lambda _connector, _now: located, tokens=tokens)
        report = run_cycle(deps, runtime.pusher, only=set(chosen))
        # The packages the push threads held are freed now; give the pages back while idle.
        self._release_memory()
        work.signature = signature
        work.look_again = False
        self._follow_up(system, work, chosen, report, tokens)

    def _look(
        self, system: str, source: DirSource | HttpSource
    ) -> tuple[Located | None, Hashable, float | None]:
        """Return what the source offers (the package, a signature that changes when it
        does) or how long to wait for a publish still settling.
        """
        if isinstance(source, HttpSource):
            locator = self._started(self._runtime).deps.locate
            fetch = getattr(locator, "fetch", None)
            if fetch is None:  # pragma: no cover - open_runtime always gives a SourceLocator
                raise SfsyncError(f"{system}: no http fetcher")
            fetched = fetch(system, source)
            return Located(fetched.path, fetched.version), fetched.version, None
        now = epoch_seconds()
        choice = choose_package(list_candidates(source.path), now, source.settle)
        if choice.settling:
            # Coalesce a burst: wait for the newest publish instead of pushing an older one.
            newest = max(candidate.modified for candidate in choice.settling)
            return None, None, max(0.05, newest + source.settle.total_seconds() - now)
        if choice.chosen is None:
            raise NothingPublishedError(f"source folder {source.path}: no package yet")
        chosen = choice.chosen
        return Located(source.path / chosen.name), (chosen.name, chosen.modified), None

    def _follow_up(
        self,
        system: str,
        work: _SystemWork,
        chosen: list[str],
        report: CycleReport,
        tokens: TokenStore,
    ) -> None:
        """Note what each connector the cycle ran waits for now (its backoff after a failure,
        a slower look for gates, deferrals, deploys and authorizations, a check of the org
        after a write whose outcome is unknown) and schedule the check for the earliest.
        """
        for connector in work.connectors:
            if connector.name in chosen:
                self._refresh_authorized(connector, tokens)
        work.failures = 0
        results = {result.connector: result for result in report.results}
        now = self._monotonic()
        # One draw for the cycle: connectors that failed together are retried together.
        draw = self._draw()
        for name in chosen:
            result = results.get(name)
            # A connector the cycle gave no result (never expected) backs off as a failure
            # rather than staying due, which would spin the checks.
            outcome = result.outcome if result is not None else Result.FAILED
            recheck_in = result.recheck_in if result is not None else None
            after = after_result(work.pending.get(name), outcome, recheck_in, now=now, draw=draw)
            if after is None:
                work.pending.pop(name, None)
                continue
            work.pending[name] = after
            if outcome.retried:
                log.warning(
                    "connector retry scheduled",
                    connector=name,
                    failures=after.failures,
                    seconds=round(after.due - now, 1),
                )
        self._schedule_pending(system, work)

    def _schedule_pending(self, system: str, work: _SystemWork) -> None:
        wait = next_check_in(work.pending, self._monotonic())
        if wait is not None:
            self.trigger(system, wait)

    def _after_failure(self, system: str, work: _SystemWork) -> None:
        """The source could not be read (or the check crashed): look again with backoff."""
        work.failures += 1
        work.look_again = True
        delay = retry_delay(work.failures, self._draw())
        log.warning("check scheduled again", system=system, seconds=round(delay, 1))
        self.trigger(system, delay)

    # -- observers ----------------------------------------------------------------------------

    def _on_result(self, result: ConnectorResult) -> None:
        # Health state first, metrics second: whoever sees the gauge move must find /healthz
        # already agreeing with it.
        self._last[result.connector] = result
        if result.outcome is Result.PUSHED:
            self._authorized[result.connector] = True
        elif result.outcome is Result.NEEDS_AUTHORIZATION:
            self._authorized[result.connector] = False
        self._metrics.record_result(
            result.connector,
            result.outcome,
            seconds=result.seconds,
            size=result.size,
            now=time.time(),
        )
        if result.outcome is Result.PUSHED:
            self._last_push = (result.connector, time.time())

    def _on_refresh(self, connector: str, result: str) -> None:
        # Same order as _on_result: the health map moves before the gauge does.
        if result in {"refreshed", "rotated"}:
            self._authorized[connector] = True
        elif result == "needs_authorization":
            self._authorized[connector] = False
        self._metrics.record_refresh(connector, result)

    def _on_response(self, connector: str, response: requests.Response) -> None:
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        self._metrics.record_request(connector, api_of(response.url), usage)
        if usage is not None and self._runtime is not None:
            # Every answer counts, token refreshes included, not only the push's own calls.
            self._runtime.deps.usage[connector] = (usage, time.time())

    def _refresh_authorized(self, connector: Connector, tokens: TokenStore | None = None) -> None:
        deps = self._started(self._runtime).deps
        try:
            record = (tokens or deps.tokens).get(connector.name)
        except SfsyncError as error:
            log.warning("cannot read the keyring", connector=connector.name, error=str(error))
            record = None
        state = deps.store.connector(connector.name)
        usable = authorization_usable(state, record.issued_at if record else None)
        self._authorized[connector.name] = usable
        self._metrics.set_authorized(connector.name, authorized=usable)

    # -- periodic jobs ------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        # Runs as a scheduler job, so a ping proves the scheduler's loop still dispatches.
        if not self.scheduler_running:
            return
        self._notifier.watchdog()
        self._notifier.status(self.summary())

    def _heartbeat_seconds(self) -> float:
        watchdog = self._notifier.watchdog_seconds
        return min(HEARTBEAT_SECONDS, watchdog / 3) if watchdog else HEARTBEAT_SECONDS

    def _keepalive(self) -> None:
        deps = self._started(self._runtime).deps
        keepalive = self.loaded.config.daemon.keepalive
        for connector in self.loaded.connectors:
            if self._stopping or not self._authorized.get(connector.name):
                continue
            try:
                if keep_alive(deps.session_for(connector), utc_now(), keepalive):
                    log.info("keep-alive refresh", connector=connector.name)
            except AuthorizationError as error:
                session = deps.session_for(connector)
                deps.store.set_needs_authorization(
                    connector.name, needed=True, issued_at=session.issued_at
                )
                self._refresh_authorized(connector)
                log.warning("keep-alive refused", connector=connector.name, error=str(error))
            except SfsyncError as error:
                log.warning("keep-alive failed", connector=connector.name, error=str(error))

    def _new_scheduler(self) -> BackgroundScheduler:
        workers = max(2, len(self._systems) + 1)
        return BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(max_workers=workers),
                "heartbeat": ThreadPoolExecutor(max_workers=1),
            },
            # Checks guard themselves (a lock and a dirty flag), so the scheduler must never
            # drop a trigger for being "already running"; a late check is still worth running.
            job_defaults={"coalesce": True, "max_instances": 16, "misfire_grace_time": None},
            timezone=UTC,
        )

    # -- what operators see -------------------------------------------------------------------

    def health(self) -> tuple[int, dict[str, Any]]:
        """Return the /healthz status and body."""
        connectors = {}
        for connector in self.loaded.connectors:
            last = self._last.get(connector.name)
            connectors[connector.name] = ConnectorHealth(
                authorized=self._authorized.get(connector.name, False),
                last_result=last.outcome if last else None,
                last_error=last.detail if last and last.outcome.failing else None,
            )
        return health(scheduler_running=self.scheduler_running, connectors=connectors)

    def summary(self) -> str:
        """Return the one-line status systemd shows."""
        total = len(self.loaded.connectors)
        failing = sum(1 for result in self._last.values() if result.outcome.failing)
        unauthorized = sum(1 for ok in self._authorized.values() if not ok)
        text = f"{total} connectors, {failing} failing, {unauthorized} need authorization"
        if self._last_push is not None:
            connector, when = self._last_push
            stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            text += f"; last push {connector} at {stamp}"
        return text
