"""Fault injection: latency, 5xx, connection resets, hangs, expired sessions, spent budgets."""

from __future__ import annotations

import dataclasses
import random as random_module
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from sfsync_emulator.models import Backend

COUNTED_KINDS = ("error", "reset", "hang")
RANDOM_KINDS = ("error", "reset", "hang", "expire_session", "latency")


@dataclass(frozen=True)
class FaultScope:
    """Which requests a fault applies to: an org (None: all), an api kind, a path prefix."""

    org_id: str | None = None
    api: str | None = None
    path_prefix: str | None = None

    def matches(self, org_id: str | None, api: str, path: str) -> bool:
        """Return whether a request to `path` of kind `api` on `org_id` is in scope."""
        if api == "control":
            return False  # the control endpoint must keep working whatever is injected
        return (
            (self.org_id is None or self.org_id == org_id)
            and (self.api is None or self.api == api)
            and (self.path_prefix is None or path.startswith(self.path_prefix))
        )


@dataclass
class _Rule:
    kind: str
    scope: FaultScope
    remaining: int | None
    status: int = 503
    seconds: float = 0.0


@dataclass
class _Chaos:
    rate: float
    kinds: tuple[str, ...]
    rng: random_module.Random
    scope: FaultScope
    status: int
    seconds: float


@dataclass(frozen=True)
class Decision:
    """What the server must do to one request before (or instead of) answering it."""

    latency: float = 0.0
    action: str | None = None
    status: int = 503
    seconds: float = 0.0


@dataclass
class FaultBook:
    """Every fault armed on one emulator; shared by all its servers."""

    backend: Backend
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rules: list[_Rule] = field(default_factory=list)
    _chaos: list[_Chaos] = field(default_factory=list)

    def add(self, rule: _Rule) -> None:
        """Arm one rule."""
        with self._lock:
            self._rules.append(rule)

    def add_chaos(self, chaos: _Chaos) -> None:
        """Arm a random fault rate."""
        with self._lock:
            self._chaos.append(chaos)

    def clear(self, org_id: str | None) -> None:
        """Disarm every fault of one org (None: every fault)."""
        with self._lock:
            self._rules = [
                r for r in self._rules if org_id is not None and r.scope.org_id != org_id
            ]
            self._chaos = [
                c for c in self._chaos if org_id is not None and c.scope.org_id != org_id
            ]

    def rekey(self, old_org_id: str, new_org_id: str) -> None:
        """Move every fault of an org to its new id (a refreshed sandbox)."""
        with self._lock:
            for rule in self._rules:
                if rule.scope.org_id == old_org_id:
                    rule.scope = dataclasses.replace(rule.scope, org_id=new_org_id)
            for chaos in self._chaos:
                if chaos.scope.org_id == old_org_id:
                    chaos.scope = dataclasses.replace(chaos.scope, org_id=new_org_id)

    def decide(self, org_id: str | None, api: str, path: str) -> Decision:
        """Return the faults for one request, consuming counted ones."""
        with self._lock:
            latency = max(
                (
                    r.seconds
                    for r in self._rules
                    if r.kind == "latency" and r.scope.matches(org_id, api, path)
                ),
                default=0.0,
            )
            for rule in self._rules:
                if (
                    rule.kind in COUNTED_KINDS
                    and rule.remaining
                    and rule.scope.matches(org_id, api, path)
                ):
                    rule.remaining -= 1
                    return Decision(latency, rule.kind, rule.status, rule.seconds)
            for chaos in self._chaos:
                if chaos.scope.matches(org_id, api, path) and chaos.rng.random() < chaos.rate:
                    kind = chaos.rng.choice(chaos.kinds)
                    if kind == "latency":
                        return Decision(max(latency, chaos.seconds))
                    return Decision(latency, kind, chaos.status, chaos.seconds)
            return Decision(latency)


@dataclass(frozen=True)
class Faults:
    """The fault-injection API, bound to one org (`org.faults`) or to all (`emu.faults`)."""

    book: FaultBook
    org_id: str | None = None

    def latency(
        self, seconds: float, api: str | None = None, path_prefix: str | None = None
    ) -> None:
        """Delay every matching request by `seconds` until `clear()`."""
        self.book.add(_Rule("latency", self._scope(api, path_prefix), None, seconds=seconds))

    def fail_next(
        self, n: int = 1, status: int = 503, api: str | None = None, path_prefix: str | None = None
    ) -> None:
        """Answer the next `n` matching requests with a Salesforce-shaped `status` error."""
        self.book.add(_Rule("error", self._scope(api, path_prefix), n, status=status))

    def reset_next(
        self, n: int = 1, api: str | None = None, path_prefix: str | None = None
    ) -> None:
        """Close the connection of the next `n` matching requests abruptly, with no answer."""
        self.book.add(_Rule("reset", self._scope(api, path_prefix), n))

    def hang_next(
        self,
        n: int = 1,
        seconds: float = 5.0,
        api: str | None = None,
        path_prefix: str | None = None,
    ) -> None:
        """Hold the next `n` matching requests for `seconds` before answering them."""
        self.book.add(_Rule("hang", self._scope(api, path_prefix), n, seconds=seconds))

    def random(
        self,
        rate: float,
        kinds: Sequence[str] = ("error", "reset"),
        seed: int | None = None,
        *,
        status: int = 503,
        seconds: float = 1.0,
        api: str | None = None,
        path_prefix: str | None = None,
    ) -> None:
        """Inject one of `kinds` into a `rate` share of matching requests, reproducibly by seed."""
        unknown = set(kinds) - set(RANDOM_KINDS)
        if unknown or not kinds:
            raise ValueError(f"fault kinds must be among {RANDOM_KINDS}, got {list(kinds)}")
        chaos = _Chaos(
            rate,
            tuple(kinds),
            random_module.Random(seed),  # noqa: S311 - reproducible chaos, not cryptography  # seeded chaos, not security  # nosec B311
            self._scope(api, path_prefix),
            status,
            seconds,
        )
        self.book.add_chaos(chaos)

    def expire_sessions(self) -> None:
        """Expire every access token now: the next API call answers 401 INVALID_SESSION_ID."""
        with self.book.backend.lock:
            self.book.backend.tokens.expire_sessions(self._orgs())

    def revoke_refresh_tokens(self) -> None:
        """Revoke every refresh token now: the next refresh answers 400 invalid_grant."""
        with self.book.backend.lock:
            self.book.backend.tokens.revoke_refresh_tokens(self._orgs())

    def exhaust_api_budget(self) -> None:
        """Spend the whole daily API budget: the next API call answers REQUEST_LIMIT_EXCEEDED."""
        with self.book.backend.lock:
            for org in self.book.backend.orgs:
                if self.org_id is None or org.org_id == self.org_id:
                    org.api_used = org.api_budget

    def clear(self) -> None:
        """Disarm every latency, error, reset, hang and random fault in this scope."""
        self.book.clear(self.org_id)

    def _scope(self, api: str | None, path_prefix: str | None) -> FaultScope:
        return FaultScope(self.org_id, api, path_prefix)

    def _orgs(self) -> set[str] | None:
        return None if self.org_id is None else {self.org_id}
