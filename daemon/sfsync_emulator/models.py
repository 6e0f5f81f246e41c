"""Orgs, users, connected apps and the request log: the emulator's state, with no HTTP in it."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sfsync_emulator import ids
from sfsync_emulator.deploys import DeployQueue
from sfsync_emulator.resources import ResourceStore, StaticResource
from sfsync_emulator.tokens import TokenBook

DEFAULT_SCOPE = "refresh_token api web"
DEFAULT_APPROVAL_LIMIT = 5  # FACTS 1b: "five unique approvals per user" per app
# FACTS 2d: an org serves every version from 31.0 up to the current release (Spring '26 = 66.0).
DEFAULT_API_VERSIONS = tuple(f"{number}.0" for number in range(31, 67))

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
    """A connected app or External Client App.

    `org_id` None: a packaged app or legacy connected app, known in every org. Otherwise a
    Local External Client App: only that org knows it (FACTS 1b).
    """

    client_id: str
    redirect_uris: list[str]
    client_secret: str | None = None
    jwt_certificate_pem: str | None = None
    device_flow: bool = True
    scope: str = DEFAULT_SCOPE
    org_id: str | None = None
    require_secret_web: bool = False
    require_secret_refresh: bool = False
    # Lower-cased usernames pre-authorized for the JWT flow; None: every user.
    preauthorized: frozenset[str] | None = None

    def serves(self, org_id: str) -> bool:
        """Return whether a user of this org may get tokens through this app."""
        return self.org_id is None or self.org_id == org_id

    def preauthorizes(self, username: str) -> bool:
        """Return whether this user may use the JWT flow without approving the app first."""
        return self.preauthorized is None or username.lower() in self.preauthorized


def new_connected_app(
    client_id: str,
    redirect_uris: Iterable[str] = (),
    jwt_certificate_pem: str | bytes | None = None,
    device_flow: bool = True,
    *,
    client_secret: str | None = None,
    scope: str = DEFAULT_SCOPE,
    org_id: str | None = None,
    require_secret_web: bool = False,
    require_secret_refresh: bool = False,
    preauthorized: Iterable[str] | None = None,
) -> ConnectedApp:
    """Return an app with these settings (a PEM given as bytes is decoded)."""
    pem = (
        jwt_certificate_pem.decode()
        if isinstance(jwt_certificate_pem, bytes)
        else jwt_certificate_pem
    )
    allowed = None if preauthorized is None else frozenset(u.lower() for u in preauthorized)
    return ConnectedApp(
        client_id,
        list(redirect_uris),
        client_secret,
        pem,
        device_flow,
        scope,
        org_id,
        require_secret_web,
        require_secret_refresh,
        allowed,
    )


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
    production: bool = False
    approval_limit: int | None = DEFAULT_APPROVAL_LIMIT
    # On as in real orgs (FACTS 2d): sfsync reads no identity URL; a test that does turns
    # it off or asks for the `id` scope.
    identity_needs_scope: bool = True
    api_versions: list[str] = field(default_factory=lambda: list(DEFAULT_API_VERSIONS))
    ip_restricted: bool = False
    inactive_user_ids: set[str] = field(default_factory=set)
    # HTTP/1.1 connections stay open between requests, as Salesforce's do; off: every answer
    # says `Connection: close`, as the emulator's always did.
    keep_alive: bool = True

    def __post_init__(self) -> None:
        self.deploys = DeployQueue(self.deploy_seconds)

    @property
    def namespace(self) -> str | None:
        """Return the org's registered namespace prefix (None: no namespace)."""
        return self.resources.namespace

    @namespace.setter
    def namespace(self, value: str | None) -> None:
        self.resources.namespace = value

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

    def user(self, user_id: str) -> User | None:
        """Return the user with this id, or None."""
        return next((u for u in self.users if u.user_id == user_id), None)

    def login_refusal(self, user_id: str) -> str | None:
        """Return the `invalid_grant` description a grant for this user gets, or None if allowed."""
        if user_id in self.inactive_user_ids:
            return "inactive user"  # FACTS 1b [C-weak]
        if self.ip_restricted:
            return "ip restricted"  # FACTS 1b [C]
        return None

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
        # Lookups by name and by id stay constant-time: a bench serves 10,000 orgs, and a
        # token refresh looks its org up by id.
        self._by_name: dict[str, Org] = {}
        self._by_id15: dict[str, Org] = {}
        self.apps: dict[str, ConnectedApp] = {}
        self.tokens = TokenBook()
        self.consent = "approve"
        self.pkce_rejects_tilde = False
        self.login_as: str | None = None

    def add_org(
        self,
        name: str,
        api_budget: int,
        deploy_seconds: float,
        *,
        rotate_refresh_tokens: bool,
        production: bool = False,
        approval_limit: int | None = DEFAULT_APPROVAL_LIMIT,
        api_versions: Sequence[str] | None = None,
        namespace: str | None = None,
    ) -> Org:
        """Create an org with one default user named after it."""
        with self.lock:
            if name in self._by_name:
                raise ValueError(f"an org named {name!r} already exists in this emulator")
            org = Org(
                name,
                ids.new_id("00D"),
                api_budget,
                deploy_seconds,
                rotate_refresh_tokens,
                production=production,
                approval_limit=approval_limit,
                api_versions=list(api_versions or DEFAULT_API_VERSIONS),
            )
            org.namespace = namespace
            org.add_user(f"admin@{name}.example.com", display_name=f"Admin {name}")
            self.orgs.append(org)
            self._by_name[name] = org
            self._by_id15[org.org_id[:15]] = org
            return org

    def org_named(self, name: str) -> Org | None:
        """Return the org with this name, or None."""
        return self._by_name.get(name)

    def register(self, app: ConnectedApp) -> None:
        """Add (or replace) an app.

        Apps are keyed by client_id alone, as consumer keys are unique across Salesforce: the
        same id registered for a second org moves the app there. A global app (org_id None)
        stays accepted in every org, also in orgs that have local apps of their own, as a
        packaged app installed everywhere is; the test fixtures' default client relies on it.
        """
        with self.lock:
            self.apps[app.client_id] = app

    def app_for(self, client_id: str, org: Org | None) -> ConnectedApp | None:
        """Return the app as a server sees it: an org's host knows no other org's local app."""
        app = self.apps.get(client_id)
        if app is None or (org is not None and not app.serves(org.org_id)):
            return None
        return app

    def org(self, org_id: str) -> Org | None:
        """Return the org with this 15- or 18-character id, or None."""
        org = self._by_id15.get(org_id[:15])
        return org if org is not None and org_id in (org.org_id, org.org_id[:15]) else None

    def find_user(self, username: str) -> tuple[Org, User] | None:
        """Return the org and user with this username anywhere in the emulator, or None."""
        for org in self.orgs:
            user = org.find_user(username)
            if user is not None:
                return org, user
        return None

    def refresh_sandbox(
        self, org: Org, source: Org | None, *, keep_local_apps: bool = False
    ) -> str:
        """Refresh `org` from `source`: new org id, tokens dead, copies of `source`'s resources.

        Users stay (re-homed to the new id). Local External Client Apps of the old id are gone,
        as Salesforce does not copy them (FACTS 1b), unless `keep_local_apps`. Return the old id.
        """
        with self.lock:
            if source is not None:
                self.advance(source)
            old_id = org.org_id
            org.org_id = ids.new_id("00D")
            del self._by_id15[old_id[:15]]
            self._by_id15[org.org_id[:15]] = org
            org.users = [dataclasses.replace(user, org_id=org.org_id) for user in org.users]
            self.tokens.forget_org(old_id)
            org.deploys = DeployQueue(org.deploys.deploy_seconds)  # running deploys die too
            if source is not None:
                org.resources.replace_with_copies(
                    source.resources, self.clock(), org.default_user.user_id
                )
            for client_id, app in list(self.apps.items()):
                if app.org_id == old_id and keep_local_apps:
                    app.org_id = org.org_id
                elif app.org_id == old_id:
                    del self.apps[client_id]
            return old_id

    def advance(self, org: Org) -> None:
        """Let the org's deploys catch up with the clock."""
        with self.lock:
            org.deploys.advance(self.clock(), org.resources)
