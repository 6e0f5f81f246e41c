"""The book of token proofs: when each connector's token grant last succeeded in this process,
kept in memory until written to the state store in one transaction (at the end of a cycle, of
the daemon's keep-alive pass and of `status`). A crash loses what was not written: the
keep-alive then refreshes early, which is harmless.
"""

from __future__ import annotations

import threading
from datetime import datetime

from sfsync.state.store import StateStore


class TokenProofs:
    """Each connector's latest successful token grant not yet written, safe to share between
    threads (every connector's session notes here).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, datetime] = {}

    def note(self, connector: str, at: datetime) -> None:
        """Remember that a token grant for `connector` succeeded at `at`."""
        with self._lock:
            known = self._pending.get(connector)
            if known is None or known < at:
                self._pending[connector] = at

    def pending(self) -> dict[str, datetime]:
        """Return the proofs not written yet, by connector."""
        with self._lock:
            return dict(self._pending)

    def write_to(self, store: StateStore) -> None:
        """Write the pending proofs to the store in one transaction and forget them (those not
        noted again meanwhile); raise StateError if the store refuses, keeping them.
        """
        proofs = self.pending()
        if not proofs:
            return
        store.record_token_proofs(proofs)
        with self._lock:
            for connector, at in proofs.items():
                if self._pending.get(connector) == at:
                    del self._pending[connector]
