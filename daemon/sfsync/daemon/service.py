"""One configuration's worth of daemon, as scheduler wiring: the sync runtime, the APScheduler
jobs that drive the checks (`check.py`), and the drop-folder watchers. A reload replaces the
whole Service; metrics and the HTTP endpoint outlive it (see `main.py`).

Checks are jobs, so retries are scheduled, not slept, and the periodic re-scan, a check like
any other, cannot retry a connector before its backoff allows.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from sfsync.auth_wiring import auth_deps
from sfsync.clock import epoch_seconds, utc_now
from sfsync.config import LoadedConfig
from sfsync.config.schema import DirSource
from sfsync.daemon.check import SystemChecks
from sfsync.daemon.memory import release_free_memory
from sfsync.daemon.metrics import Metrics
from sfsync.daemon.notify import Notifier
from sfsync.daemon.observers import Observers
from sfsync.daemon.watch import FolderWatcher
from sfsync.errors import AuthorizationError, SfsyncError, StateError
from sfsync.salesforce.keepalive import keep_alive
from sfsync.salesforce.retry import RetryPolicy
from sfsync.sync.cycle import write_proofs
from sfsync.sync.runtime import SyncRuntime, open_runtime
from sfsync.tokens.snapshot import TokenSnapshot

log = structlog.get_logger("sfsync.daemon")
T = TypeVar("T")

KEEPALIVE_CHECK_SECONDS = 3600.0
HEARTBEAT_SECONDS = 5.0
# In-push retries stay short: longer trouble becomes a scheduled retry of the connector.
DAEMON_RETRY = RetryPolicy(attempts=2, base_seconds=0.5, cap_seconds=1.0)


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
        clock: Callable[[], datetime] = utc_now,
        epoch: Callable[[], float] = epoch_seconds,
    ) -> None:
        self.loaded = loaded
        self.observers = Observers(loaded, metrics, epoch=epoch)
        self._metrics = metrics
        self._notifier = notifier
        self._draw = draw
        self._monotonic = monotonic
        self._release_memory = release_memory
        self._clock = clock
        self._epoch = epoch
        self._stack = ExitStack()
        self._runtime: SyncRuntime | None = None
        self._checks: SystemChecks | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._watcher: FolderWatcher | None = None
        self._unwatched: dict[str, DirSource] = {}  # folders inotify could not watch yet
        self._stopping = False
        self._busy = threading.Condition()
        self._running_checks = 0
        self._trigger_lock = threading.Lock()
        self._systems = list(dict.fromkeys(connector.system for connector in loaded.connectors))

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the runtime, start the scheduler and watchers, and check every source once.

        Raise SfsyncError (e.g. no usable keyring) with nothing left running.
        """
        config = self.loaded.config
        observers = self.observers
        try:
            auth = auth_deps(self.loaded)
            auth.on_refresh = observers.on_refresh
            runtime = self._stack.enter_context(
                open_runtime(
                    self.loaded,
                    on_result=observers.on_result,
                    on_response=observers.on_response,
                    auth=auth,
                    retry=DAEMON_RETRY,
                    push_slots=threading.BoundedSemaphore(config.daemon.concurrency),
                    clock=self._clock,
                    epoch=self._epoch,
                )
            )
            self._runtime = runtime
            self._checks = SystemChecks(
                self.loaded,
                runtime,
                observers,
                self.trigger,
                stopping=lambda: self._stopping,
                draw=self._draw,
                release_memory=self._release_memory,
                monotonic=self._monotonic,
                epoch=self._epoch,
            )
            tokens = TokenSnapshot(runtime.deps.tokens, [c.name for c in self.loaded.connectors])
            for connector in self.loaded.connectors:
                self._metrics.track_connector(connector.name)
                observers.refresh_authorized(connector, tokens, runtime.deps.store)
            self._scheduler = self._new_scheduler()
            self._watcher = FolderWatcher()
            # Started before any folder is watched, so that a folder that cannot be watched
            # (missing, unreadable) fails its own watch, not the start of the whole daemon.
            self._watcher.start()
            for system, work in self._checks.systems.items():
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
                next_run_time=self._clock() + timedelta(seconds=10),
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
        run_at = self._clock() + timedelta(seconds=max(0.0, delay))
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

    def _check(self, system: str) -> None:
        checks = self._started(self._checks)
        with self._busy:
            self._running_checks += 1
        try:
            checks.check(system)
        finally:
            with self._busy:
                self._running_checks -= 1
                self._busy.notify_all()

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
        try:
            states = deps.store.connectors([c.name for c in self.loaded.connectors])
        except StateError as error:
            log.warning("keep-alive could not read the state store", error=str(error))
            states = {}
        for connector in self.loaded.connectors:
            if self._stopping or not self.observers.is_authorized(connector.name):
                continue
            state = states.get(connector.name)
            proven_at = state.token_proven_at if state is not None else None
            try:
                if keep_alive(deps.session_for(connector), self._clock(), keepalive, proven_at):
                    log.info("keep-alive refresh", connector=connector.name)
            except AuthorizationError as error:
                session = deps.session_for(connector)
                deps.store.set_needs_authorization(
                    connector.name, needed=True, issued_at=session.issued_at
                )
                self.observers.refresh_authorized(connector, deps.tokens, deps.store)
                log.warning("keep-alive refused", connector=connector.name, error=str(error))
            except SfsyncError as error:
                log.warning("keep-alive failed", connector=connector.name, error=str(error))
        write_proofs(deps)

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
        return self.observers.health(scheduler_running=self.scheduler_running)

    def summary(self) -> str:
        """Return the one-line status systemd shows."""
        return self.observers.summary()
