"""`sfsync run`: start the service, then wait for signals. SIGHUP reloads the config (a bad one
is logged and the running one kept); SIGTERM and SIGINT stop, letting a push in flight finish
for up to STOP_GRACE_SECONDS, and exit 0.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from sfsync.config import LoadedConfig, load_config
from sfsync.daemon.endpoint import Endpoint
from sfsync.daemon.holder import StateDirectoryHold
from sfsync.daemon.metrics import Metrics
from sfsync.daemon.notify import Notifier
from sfsync.daemon.service import Service
from sfsync.errors import ExitStatus, SfsyncError
from sfsync.log import configure_logging

log = structlog.get_logger("sfsync.daemon")

# The unit's TimeoutStopSec leaves room above this; a push still running after it is abandoned
# (the state store marks it so at the next start, and the next cycle pushes again).
STOP_GRACE_SECONDS = 30.0
# A reload waits for running pushes without a tight bound: two runtimes must never share the
# state store's unfinished pushes.
RELOAD_GRACE_SECONDS = 600.0


class _Daemon:
    """The long-lived parts (metrics, endpoint, notifier) and the current Service."""

    def __init__(self, loaded: LoadedConfig, notifier: Notifier, hold: StateDirectoryHold) -> None:
        self.loaded = loaded
        self.hold = hold
        self.notifier = notifier
        self.metrics = Metrics()
        self.service = Service(loaded, self.metrics, notifier)
        self.endpoint: Endpoint | None = None

    def start(self) -> None:
        self.service.start()
        self._open_endpoint(self.loaded.config.daemon.metrics_listen)
        self.notifier.ready(self.service.summary())
        # Said here, not by the service: a reload starts a service too, and says "reloaded".
        log.info(
            "daemon started",
            connectors=len(self.loaded.connectors),
            systems=len({connector.system for connector in self.loaded.connectors}),
            config=str(self.loaded.path),
        )

    def reload(self) -> None:
        self.notifier.reloading()
        log.info("reloading", config=str(self.loaded.path))
        try:
            fresh = load_config(self.loaded.path)
        except SfsyncError as error:
            log.error("reload refused; keeping the running config", error=str(error))  # noqa: TRY400 - the one line is the message
            first_line = (str(error).splitlines() or ["invalid config"])[0]
            self.notifier.ready(f"reload refused: {first_line}"[:200])
            return
        if fresh.config.daemon.state_dir != self.hold.state_dir:
            log.error(
                "reload refused; a new state_dir needs a restart",
                state_dir=str(fresh.config.daemon.state_dir),
                running_state_dir=str(self.hold.state_dir),
            )
            self.notifier.ready("reload refused: a new state_dir needs a restart")
            return
        self.service.stop(RELOAD_GRACE_SECONDS)
        configure_logging(fresh.config.daemon.log_format, stream=sys.stdout)
        try:
            service = Service(fresh, self.metrics, self.notifier)
            service.start()
        except SfsyncError as error:
            log.error("new config cannot start; keeping the running config", error=str(error))  # noqa: TRY400
            service = Service(self.loaded, self.metrics, self.notifier)
            service.start()
        else:
            self.loaded = fresh
        self.service = service
        listen = self.loaded.config.daemon.metrics_listen
        if self.endpoint is None or self.endpoint.listen != listen:
            self._close_endpoint()
            self._open_endpoint(listen)
        self.notifier.ready(self.service.summary())
        log.info(
            "reloaded",
            connectors=len(self.loaded.connectors),
            systems=len({connector.system for connector in self.loaded.connectors}),
            config=str(self.loaded.path),
        )

    def stop(self) -> bool:
        self.notifier.stopping()
        log.info("stopping", grace_seconds=STOP_GRACE_SECONDS)
        finished = self.service.stop(STOP_GRACE_SECONDS)
        if not finished:
            log.warning("a push was still running at shutdown; it will be retried at next start")
        self._close_endpoint()
        log.info("stopped")
        return finished

    def _open_endpoint(self, listen: str) -> None:
        if listen:
            self.endpoint = Endpoint(listen, self.metrics.render, self._health)
            log.info("serving /metrics and /healthz", listen=listen, port=self.endpoint.port)

    def _health(self) -> tuple[int, dict[str, Any]]:
        return self.service.health()  # the current service: a reload replaces it

    def _close_endpoint(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
            self.endpoint = None


def run_daemon(config_path: Path) -> int:
    """Given the config file, run the daemon until SIGTERM/SIGINT; return the exit status.

    Raise SfsyncError if the config is invalid or the service cannot start.
    """
    loaded = load_config(config_path)
    # Before anything is logged, scheduled, bound or told to systemd: a second daemon on this
    # state_dir would push alongside the first and fight over its store.
    hold = StateDirectoryHold.take(loaded.config.daemon.state_dir)
    configure_logging(loaded.config.daemon.log_format, stream=sys.stdout)
    # SimpleQueue.put is safe in a signal handler; the handlers only post, the loop acts.
    signals: queue.SimpleQueue[int] = queue.SimpleQueue()

    def post(number: int, _frame: FrameType | None) -> None:
        signals.put(number)

    for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(handled, post)
    notifier = Notifier()
    daemon = _Daemon(loaded, notifier, hold)
    daemon.start()
    while True:
        number = next_signal(signals)
        if number == signal.SIGHUP:
            daemon.reload()
            continue
        finished = daemon.stop()
        notifier.close()
        if not finished:
            sys.stdout.flush()
            # Worker threads still inside a push would hold the interpreter open; the state
            # store is transactional, so leaving now loses nothing.
            os._exit(int(ExitStatus.OK))
        return int(ExitStatus.OK)


# How often the main thread wakes while it waits for a signal. The kernel hands a process signal
# to any thread that does not block it, and Python runs the handler only when the main thread
# next executes bytecode: a main thread blocked for good in `get()` sat on a SIGHUP delivered to
# a worker thread until something else woke it (a reload seen to hang in CI).
SIGNAL_POLL_SECONDS = 0.2


def next_signal(signals: queue.SimpleQueue[int], poll_seconds: float = SIGNAL_POLL_SECONDS) -> int:
    """Given the queue the signal handlers post to, return the next signal number, waking every
    `poll_seconds` so that a signal another thread received gets its handler run.
    """
    while True:
        try:
            return signals.get(timeout=poll_seconds)
        except queue.Empty:
            continue
