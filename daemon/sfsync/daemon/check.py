"""The daemon's check of one system, apart from any scheduler: look at the source once, choose
the connectors to run (everything when the source offers something new, else those whose
pending work is due; see `pending.py`), run one cycle for them, and say when to look again.

A check never sleeps: every "look again in N seconds" goes to `schedule`, which the service
turns into a scheduler job (and a test into a list).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import structlog

from sfsync.clock import epoch_seconds
from sfsync.config import Connector, LoadedConfig
from sfsync.daemon.backoff import retry_delay
from sfsync.daemon.memory import release_free_memory
from sfsync.daemon.observers import Observers
from sfsync.daemon.pending import Pending, after_result, connectors_to_check, next_check_in
from sfsync.errors import NothingPublishedError, SfsyncError
from sfsync.sync.cycle import ConnectorResult, CycleReport, run_cycle
from sfsync.sync.result import Result
from sfsync.sync.runtime import SyncRuntime
from sfsync.tokens.snapshot import TokenSnapshot

log = structlog.get_logger("sfsync.daemon")


@dataclass
class SystemWork:
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


class SystemChecks:
    """The checks of every system of one loaded config, run through one runtime."""

    def __init__(
        self,
        loaded: LoadedConfig,
        runtime: SyncRuntime,
        observers: Observers,
        schedule: Callable[[str, float], None],
        *,
        stopping: Callable[[], bool] = lambda: False,
        draw: Callable[[], float] = random.random,
        release_memory: Callable[[], object] = release_free_memory,
        monotonic: Callable[[], float] = time.monotonic,
        epoch: Callable[[], float] = epoch_seconds,
    ) -> None:
        self._runtime = runtime
        self._observers = observers
        self._schedule = schedule
        self._stopping = stopping
        self._draw = draw
        self._release_memory = release_memory
        self._monotonic = monotonic
        self._epoch = epoch
        systems: dict[str, list[Connector]] = {}
        for connector in loaded.connectors:
            systems.setdefault(connector.system, []).append(connector)
        self.systems = {name: SystemWork(tuple(items)) for name, items in systems.items()}
        self._cycles_running = 0
        self._cycles_lock = threading.Lock()

    def check(self, system: str) -> None:
        """Given a system, check it now; if a check of it is running, make that one look again
        when it ends. Never raise: a crash schedules the check again with backoff.
        """
        work = self.systems[system]
        if not work.lock.acquire(blocking=False):
            work.dirty = True  # the running check looks again when it ends
            return
        try:
            while not self._stopping():
                work.dirty = False
                self._check_once(system, work)
                if not work.dirty:
                    break
        except Exception:
            log.exception("source check crashed", system=system)
            self._after_failure(system, work)
        finally:
            work.lock.release()

    def _check_once(self, system: str, work: SystemWork) -> None:
        metrics = self._observers.metrics
        runtime = self._runtime
        try:
            look = runtime.deps.sources[system].look(self._epoch())
        except NothingPublishedError as error:
            metrics.record_source_check(system, "waiting")
            # A source that cannot be read yet: a warning (SPEC section 10).
            log.warning("nothing published yet", system=system, detail=str(error))
            return
        except SfsyncError as error:
            metrics.record_source_check(system, "failed")
            log.warning("source check failed", system=system, error=str(error))
            for connector in work.connectors:
                self._observers.on_result(
                    ConnectorResult(connector.name, Result.FAILED, str(error))
                )
            self._after_failure(system, work)
            return
        if look.settle_wait is not None:
            metrics.record_source_check(system, "settling")
            self._schedule(system, look.settle_wait)
            return
        changed = look.signature != work.signature
        metrics.record_source_check(system, "new" if changed else "same")
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
        # One keyring pass for the cycle and the authorized gauges after it.
        tokens = TokenSnapshot(runtime.deps.tokens, chosen)
        with self._cycles_lock:
            self._cycles_running += 1
        try:
            report = run_cycle(
                runtime.deps, runtime.pusher, only=set(chosen), looks={system: look}, tokens=tokens
            )
        finally:
            self._after_cycle()
        work.signature = look.signature
        work.look_again = False
        self._follow_up(system, work, chosen, report, tokens)

    def _after_cycle(self) -> None:
        """When no other system's cycle is running, let go of what only a cycle needs.

        The connections to the orgs are closed: the next cycle comes with the next publish,
        usually minutes or hours away, and a kept connection would serve it only if neither
        the org nor a proxy on the way had closed it meanwhile; each holds its TLS state
        (about 55 KB per org). The next cycle pays a handshake per org instead. The packages
        the push threads held are freed now and the compression cache's entries are on disk;
        the pages go back to the OS while idle.
        """
        with self._cycles_lock:
            self._cycles_running -= 1
            if self._cycles_running:
                return
            self._runtime.close_connections()
            if self._runtime.deps.cache is not None:
                self._runtime.deps.cache.unload()
            self._release_memory()

    def _follow_up(
        self,
        system: str,
        work: SystemWork,
        chosen: list[str],
        report: CycleReport,
        tokens: TokenSnapshot,
    ) -> None:
        """Note what each connector the cycle ran waits for now (its backoff after a failure,
        a slower look for gates, deferrals, deploys and authorizations, a check of the org
        after a write whose outcome is unknown) and schedule the check for the earliest.
        """
        for connector in work.connectors:
            if connector.name in chosen:
                self._observers.refresh_authorized(connector, tokens, self._runtime.deps.store)
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

    def _schedule_pending(self, system: str, work: SystemWork) -> None:
        wait = next_check_in(work.pending, self._monotonic())
        if wait is not None:
            self._schedule(system, wait)

    def _after_failure(self, system: str, work: SystemWork) -> None:
        """The source could not be read (or the check crashed): look again with backoff."""
        work.failures += 1
        work.look_again = True
        delay = retry_delay(work.failures, self._draw())
        log.warning("check scheduled again", system=system, seconds=round(delay, 1))
        self._schedule(system, delay)
