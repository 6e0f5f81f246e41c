"""The one owner of each connector's API usage: what its org reported last, and when.

Two feeds write here: the pusher's calls (kept in the state store too, so that a restart
remembers them) and, in the daemon, every answer a connector's session gets (token refreshes
included), kept in memory. The cycle reads it to defer pushes near the ceiling.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import requests

from sfsync.clock import epoch_seconds
from sfsync.salesforce.limits import ApiUsage, parse_limit_info
from sfsync.state.store import StateStore


class UsageBook:
    """Each connector's last reported API usage with when (epoch seconds)."""

    def __init__(
        self,
        store: StateStore | None = None,
        connectors: Iterable[str] = (),
        *,
        epoch: Callable[[], float] = epoch_seconds,
    ) -> None:
        self._store = store
        self._epoch = epoch
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[ApiUsage, float]] = {}
        if store is not None:
            # Usage carries over from earlier processes through the store.
            self._seen.update(store.api_usages(list(connectors)))

    def get(self, connector: str) -> tuple[ApiUsage, float] | None:
        """Given a connector, return its last usage and when it was reported, or None."""
        with self._lock:
            return self._seen.get(connector)

    def record(self, connector: str, usage: ApiUsage) -> None:
        """Given what a push's call reported, remember it here and in the state store."""
        at = self._epoch()
        with self._lock:
            self._seen[connector] = (usage, at)
        if self._store is not None:
            self._store.record_api_usage(connector, usage, at)

    def observe(self, connector: str, response: requests.Response) -> None:
        """Given any answer the connector's org gave, remember the usage it reports (if any)."""
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            at = self._epoch()
            with self._lock:
                self._seen[connector] = (usage, at)
