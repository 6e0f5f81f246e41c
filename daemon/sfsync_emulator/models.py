"""Orgs, users, connected apps and the request log: the emulator's state, with no HTTP in it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sfsync_emulator import ids
from sfsync_emulator.deploys import DeployQueue
from sfsync_emulator.resources import ResourceStore, StaticResource
from sfsync_emulator.tokens import TokenBook

DEFAULT_SCOPE = "refresh_token api web"

__all__ = ["Backend", "ConnectedApp", "Org", "RequestLogEntry", "StaticResource", "User"]


@dataclass(frozen=True)
class User:
    """A Salesforce user of one org."""

    user_id: str
    username: str
    display_name: str
    email: str
    org_id: str


@dataclass
class ConnectedApp:
    """A connected app or External Client App; it applies to every org of the emulator."""

    client_id: str
    redirect_uris: list[str]
    client_secret: str | None = None
    jwt_certificate_pem: str | None = None
    device_flow: bool = True
    scope: str = DEFAULT_SCOPE


@dataclass(frozen=True)
class RequestLogEntry:
    """One request an emulator server answered (status 0: the connection was reset)."""

    method: str
    path: str
    status: int
    api: str
    at: float


class RequestLog:
    """The requests one server answered, with counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RequestLogEntry] = []

    def append(self, entry: RequestLogEntry) -> None:
        """Record one answered request."""
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[RequestLogEntry]:
        """Return a snapshot of every entry, oldest first."""
        with self._lock:
            return list(self._entries)

    def count(
        self, api: str | None = None, method: str | None = None, path_prefix: str | None = None
    ) -> int:
        """Return how many logged requests match every filter given."""
        return sum(
            1
            for entry in self.entries()
            if (api is None or entry.api == api)
            and (method is None or entry.method == method.upper())
            and (path_prefix is None or entry.path.startswith(path_prefix))
        )


@dataclass
class Org:
    """One Salesforce org: its users, StaticResources, deploys, API budget and options."""

    name: str
    org_id: str
    api_budget: int
    deploy_seconds: float
    rotate_refresh_tokens: bool
    users: list[User] = field(default_factory=list)
    resources: ResourceStore = field(default_factory=ResourceStore)
    deploys: DeployQueue = field(init=False)
    api_used: int = 0
    request_log: RequestLog = field(default_factory=RequestLog)

    def __post_init__(self) -> None:
        self.deploys = DeployQueue(self.deploy_seconds)

    @property
    def default_user(self) -> User:
        """Return the org's first user, the one authorize logs in by default."""
        return self.users[0]

    def add_user(self, username: str, display_name: str = "Emulated User") -> User:
        """Create a user in this org."""
        user = User(ids.new_id("005"), username, display_name, username, self.org_id)
        self.users.append(user)
        return user

    def find_user(self, username: str) -> User | None:
        """Return the user with this username (usernames ignore case), or None."""
        return next((u for u in self.users if u.username.lower() == username.lower()), None)

    def spend_api_call(self) -> bool:
        """Count one API call against the daily budget; return False when it is spent."""
        if self.api_used >= self.api_budget:
            return False
        self.api_used += 1
        return True

    def limit_info(self) -> str:
        """Return the `Sforce-Limit-Info` header value."""
        return f"api-usage={self.api_used}/{self.api_budget}"


class Backend:
    """All orgs, apps and tokens of one emulator, behind one lock."""

    def __init__(self, clock: Callable[[], float], device_interval: int = 5) -> None:
        self.clock = clock
        self.device_interval = device_interval
        self.lock = threading.RLock()
        self.orgs: list[Org] = []
        self.apps: dict[str, ConnectedApp] = {}
        self.tokens = TokenBook()
        self.consent = "approve"
        self.pkce_rejects_tilde = False

    def add_org(
        self,
        name: str,
        api_budget: int,
        deploy_seconds: float,
        *,
        rotate_refresh_tokens: bool,
    ) -> Org:
        """Create an org with one default user named after it."""
        with self.lock:
            if any(org.name == name for org in self.orgs):
                raise ValueError(f"an org named {name!r} already exists in this emulator")
            org = Org(
                name,
                ids.new_id("00D"),
                api_budget,
                deploy_seconds,
                rotate_refresh_tokens,
            )
            org.add_user(f"admin@{name}.example.com", display_name=f"Admin {name}")
            self.orgs.append(org)
            return org

    def org(self, org_id: str) -> Org | None:
        """Return the org with this 15- or 18-character id, or None."""
        return next((o for o in self.orgs if org_id in (o.org_id, o.org_id[:15])), None)

    def find_user(self, username: str) -> tuple[Org, User] | None:
        """Return the org and user with this username anywhere in the emulator, or None."""
        for org in self.orgs:
            user = org.find_user(username)
            if user is not None:
                return org, user
        return None

    def advance(self, org: Org) -> None:
        """Let the org's deploys catch up with the clock."""
        with self.lock:
            org.deploys.advance(self.clock(), org.resources)
