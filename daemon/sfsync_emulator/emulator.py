"""The public face: `with Emulator() as emu: org = emu.add_org(...)`."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from sfsync_emulator import ids
from sfsync_emulator.app import EmulatorApp
from sfsync_emulator.context import Context
from sfsync_emulator.deploys import Deploy
from sfsync_emulator.faults import FaultBook, Faults
from sfsync_emulator.models import (
    DEFAULT_APPROVAL_LIMIT,
    DEFAULT_SCOPE,
    Backend,
    ConnectedApp,
    Org,
    RequestLog,
    RequestLogEntry,
    User,
    new_connected_app,
)
from sfsync_emulator.resources import StaticResource
from sfsync_emulator.server import ServerPool
from sfsync_emulator.tls import make_server_context


class OrgHandle:
    """One emulated org as tests see it: its URL, data, log, faults and options."""

    def __init__(self, emulator: Emulator, org: Org, instance_url: str) -> None:
        self._emulator = emulator
        self._org = org
        self.instance_url = instance_url
        self.faults = Faults(emulator.fault_book, org.org_id)

    @property
    def name(self) -> str:
        """Return the org's name as given to `add_org`."""
        return self._org.name

    @property
    def org_id(self) -> str:
        """Return the 18-character org id (`00D...`)."""
        return self._org.org_id

    @property
    def default_user(self) -> User:
        """Return the user authorize logs in when no `login_hint` names another."""
        return self._org.default_user

    def add_user(self, username: str, display_name: str = "Emulated User") -> User:
        """Create another user in this org."""
        with self._emulator.backend.lock:
            return self._org.add_user(username, display_name)

    @property
    def static_resources(self) -> dict[str, StaticResource]:
        """Return name -> StaticResource as the org holds them now (deploys caught up)."""
        self._emulator.backend.advance(self._org)
        with self._emulator.backend.lock:
            return self._org.resources.by_name()

    @property
    def request_log(self) -> list[RequestLogEntry]:
        """Return every request this org's server answered, oldest first."""
        return self._org.request_log.entries()

    def count(
        self, api: str | None = None, method: str | None = None, path_prefix: str | None = None
    ) -> int:
        """Return how many requests to this org match every filter given."""
        return self._org.request_log.count(api, method, path_prefix)

    @property
    def api_used(self) -> int:
        """Return how many API calls the daily budget has been charged."""
        return self._org.api_used

    @property
    def api_budget(self) -> int:
        """Return the daily API budget."""
        return self._org.api_budget

    @api_budget.setter
    def api_budget(self, value: int) -> None:
        self._org.api_budget = value

    @property
    def rotate_refresh_tokens(self) -> bool:
        """Return whether refresh grants rotate the refresh token."""
        return self._org.rotate_refresh_tokens

    @rotate_refresh_tokens.setter
    def rotate_refresh_tokens(self, value: bool) -> None:
        self._org.rotate_refresh_tokens = value

    @property
    def deploy_seconds(self) -> float:
        """Return how long each Metadata deploy runs."""
        return self._org.deploys.deploy_seconds

    @deploy_seconds.setter
    def deploy_seconds(self, value: float) -> None:
        self._org.deploys.deploy_seconds = value

    @property
    def production(self) -> bool:
        """Return whether this is a production org (it refuses `testLevel` NoTestRun)."""
        return self._org.production

    @production.setter
    def production(self, value: bool) -> None:
        self._org.production = value

    @property
    def approval_limit(self) -> int | None:
        """Return how many approvals one user may hold through one app (None: no limit)."""
        return self._org.approval_limit

    @approval_limit.setter
    def approval_limit(self, value: int | None) -> None:
        self._org.approval_limit = value

    def approvals(self, user: str | None = None, client_id: str | None = None) -> int:
        """Return how many live approvals (refresh-token families) a user holds.

        `user`: a username (None: the default user); `client_id` None counts every app. Only
        consents count (code exchange, device flow, `issue_session(approval=True)`).
        """
        with self._emulator.backend.lock:
            user_id = self._user(user).user_id
            tokens = self._emulator.backend.tokens
            return len(tokens.approvals(user_id, client_id))

    @property
    def identity_needs_scope(self) -> bool:
        """Return whether the identity URL and userinfo need the id/openid/profile/full scope."""
        return self._org.identity_needs_scope

    @identity_needs_scope.setter
    def identity_needs_scope(self, value: bool) -> None:
        self._org.identity_needs_scope = value

    @property
    def api_versions(self) -> tuple[str, ...]:
        """Return the API versions this org serves (`GET /services/data/`)."""
        return tuple(self._org.api_versions)

    @api_versions.setter
    def api_versions(self, value: Sequence[str]) -> None:
        self._org.api_versions = list(value)

    @property
    def namespace(self) -> str | None:
        """Return the namespace prefix StaticResources created here carry (None: no namespace)."""
        return self._org.namespace

    @namespace.setter
    def namespace(self, value: str | None) -> None:
        with self._emulator.backend.lock:
            self._org.namespace = value

    @property
    def ip_restricted(self) -> bool:
        """Return whether every grant for this org's users answers `ip restricted`."""
        return self._org.ip_restricted

    @ip_restricted.setter
    def ip_restricted(self, value: bool) -> None:
        self._org.ip_restricted = value

    @property
    def keep_alive(self) -> bool:
        """Return whether this org's server keeps HTTP connections open between requests
        (False: every answer says `Connection: close`, and the server closes the connection).
        """
        return self._org.keep_alive

    @keep_alive.setter
    def keep_alive(self, value: bool) -> None:
        self._org.keep_alive = value

    def deactivate_user(self, username: str) -> None:
        """Deactivate a user: their grants answer `invalid_grant` / `inactive user`."""
        with self._emulator.backend.lock:
            self._org.inactive_user_ids.add(self._user(username).user_id)

    def reactivate_user(self, username: str) -> None:
        """Undo `deactivate_user`."""
        with self._emulator.backend.lock:
            self._org.inactive_user_ids.discard(self._user(username).user_id)

    def register_client(
        self,
        client_id: str,
        redirect_uris: Iterable[str] = (),
        *,
        secret: str | None = None,
        require_secret_web: bool = False,
        require_secret_refresh: bool = False,
        preauthorized: Iterable[str] | None = None,
        jwt_certificate_pem: str | bytes | None = None,
        device_flow: bool = True,
        scope: str = DEFAULT_SCOPE,
    ) -> ConnectedApp:
        """Register a Local External Client App: only this org knows its `client_id`.

        Another org's host, or a user of another org, gets `invalid_client_id` for it.
        `secret`: the consumer secret; `require_secret_web` / `require_secret_refresh`: the
        app's two "Require secret" switches; `preauthorized`: the usernames the JWT flow
        accepts (None: every user).
        """
        return self._emulator.register_client(
            client_id,
            redirect_uris,
            jwt_certificate_pem,
            device_flow,
            client_secret=secret,
            scope=scope,
            org=self,
            require_secret_web=require_secret_web,
            require_secret_refresh=require_secret_refresh,
            preauthorized=preauthorized,
        )

    def seed_resource(
        self,
        name: str,
        body: bytes,
        *,
        namespace: str | None = None,
        content_type: str = "application/zip",
        cache_control: str = "Public",
    ) -> StaticResource:
        """Put a StaticResource in the org without the API (no name checks).

        `namespace`: its NamespacePrefix, as a managed package's resource has; it may share
        its Name with the org's own resource.
        """
        backend = self._emulator.backend
        with backend.lock:
            now = backend.clock()
            record = StaticResource(
                id=ids.new_id("081"),
                name=name,
                body=body,
                content_type=content_type,
                cache_control=cache_control,
                description=None,
                created_date=now,
                system_modstamp=now,
                user_id=self.default_user.user_id,
                namespace_prefix=namespace,
            )
            record.history.append(record.sha256)
            self._org.resources.seed(record)
            return record

    def refresh_sandbox(
        self, source: OrgHandle | None = None, *, keep_local_apps: bool = False
    ) -> None:
        """Refresh this sandbox: a new org id, every token dead, and copies of `source`'s
        StaticResources (new record Ids, [U]); users and the instance URL stay.

        `source` None keeps this org's resources as they are (only the id and tokens change).
        Its Local External Client Apps are dropped, as Salesforce does not copy them
        (FACTS 1b), unless `keep_local_apps`.
        """
        backend = self._emulator.backend
        with backend.lock:
            old_id = backend.refresh_sandbox(
                self._org,
                source._org if source is not None else None,  # noqa: SLF001 - same class
                keep_local_apps=keep_local_apps,
            )
            self._emulator.rekey_org(old_id, self._org.org_id, self.instance_url)
        self.faults = Faults(self._emulator.fault_book, self._org.org_id)

    def _user(self, username: str | None) -> User:
        user = self._org.find_user(username) if username else self.default_user
        if user is None:
            raise KeyError(f"no user {username!r} in org {self.name!r}")
        return user

    def deploy(self, deploy_id: str) -> Deploy | None:
        """Return a Metadata deploy of this org by id (state caught up), or None."""
        self._emulator.backend.advance(self._org)
        with self._emulator.backend.lock:
            return self._org.deploys.get(deploy_id)

    def approve_device(self, user_code: str) -> None:
        """Approve a device-flow request as this org's default user."""
        self._decide_device(user_code, "approved")

    def deny_device(self, user_code: str) -> None:
        """Deny a device-flow request."""
        self._decide_device(user_code, "denied")

    def _decide_device(self, user_code: str, decision: str) -> None:
        with self._emulator.backend.lock:
            device = self._emulator.backend.tokens.find_device(user_code)
            if device is None:
                raise KeyError(f"no device request has user code {user_code!r}")
            device.decision = decision
            device.org_id, device.user_id = self.org_id, self.default_user.user_id

    @property
    def issued_tokens(self) -> list[str]:
        """Return every access and refresh token ever issued for this org."""
        tokens = self._emulator.backend.tokens
        with self._emulator.backend.lock:
            return [
                value
                for value in tokens.issued
                if (value in tokens.access and tokens.access[value].org_id == self.org_id)
                or (value in tokens.refresh and tokens.refresh[value].org_id == self.org_id)
            ]

    def issue_session(
        self,
        client_id: str | None = None,
        scope: str = DEFAULT_SCOPE,
        username: str | None = None,
        *,
        approval: bool = False,
    ) -> tuple[str, str | None]:
        """Mint tokens without the OAuth dance; return (access_token, refresh_token or None).

        `approval`: the refresh token counts as one consent against the approval limit (the
        oldest past the limit is revoked), as if the user had authorized the app.
        """
        backend = self._emulator.backend
        with backend.lock:
            app_id = client_id or next(iter(backend.apps), "sfsync-emulator")
            user = self._org.find_user(username) if username else self.default_user
            if user is None:
                raise KeyError(f"no user {username!r} in org {self.name!r}")
            offline = "refresh_token" in scope.split()
            grant = backend.tokens.issue(
                self.org_id, user.user_id, app_id, scope, with_refresh=offline, approval=approval
            )
            if approval:
                backend.tokens.enforce_approval_limit(
                    user.user_id, app_id, self._org.approval_limit
                )
        return grant.access.token, grant.refresh.token if grant.refresh else None


class Emulator:
    """Salesforce orgs on loopback HTTPS, plus a shared login host; a context manager."""

    def __init__(
        self,
        latency: float = 0.0,
        *,
        device_interval: int = 5,
        pkce_rejects_tilde: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = Backend(clock, device_interval)
        self.backend.pkce_rejects_tilde = pkce_rejects_tilde
        self.fault_book = FaultBook(self.backend)
        self.faults = Faults(self.fault_book)
        self.request_log_book = RequestLog()
        self._latency = latency
        self._stop = threading.Event()
        self._instance_urls: dict[str, str] = {}
        self._orgs: list[OrgHandle] = []
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._pool: ServerPool | None = None
        self._login_url = ""
        self._ca_path: Path | None = None

    def __enter__(self) -> Self:
        """Start the login host; orgs start as they are added."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop every server and thread."""
        self.stop()

    def start(self) -> None:
        """Create the CA and certificate, and start the login host."""
        if self._pool is not None:
            return
        self._workdir = tempfile.TemporaryDirectory(prefix="sfsync-emulator-")
        self._ca_path, ssl_context = make_server_context(Path(self._workdir.name))
        self._pool = ServerPool(ssl_context)
        if self._latency:
            self.faults.latency(self._latency)
        context = self._context(None, "", self.request_log_book)
        port = self._pool.add(EmulatorApp(context))
        self._login_url = context.base_url = context.login_url = f"https://127.0.0.1:{port}"

    def stop(self) -> None:
        """Stop all servers, cut open connections and remove the certificate files."""
        self._stop.set()
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def _context(self, org: Org | None, base_url: str, log: RequestLog) -> Context:
        return Context(
            self.backend,
            self.fault_book,
            org,
            base_url,
            self._login_url,
            self._instance_urls,
            self._stop,
            log,
        )

    @property
    def ca_path(self) -> Path:
        """Return the CA certificate PEM clients pass as `verify=`."""
        if self._ca_path is None:
            raise RuntimeError("the emulator is not running: use `with Emulator() as emu:`")
        return self._ca_path

    @property
    def login_url(self) -> str:
        """Return the shared login host (like https://login.salesforce.com)."""
        return self._login_url

    @property
    def orgs(self) -> list[OrgHandle]:
        """Return every org, in the order they were added."""
        return list(self._orgs)

    @property
    def request_log(self) -> list[RequestLogEntry]:
        """Return every request the login host answered."""
        return self.request_log_book.entries()

    @property
    def consent(self) -> str:
        """Return what authorize does: "approve" (auto-consent) or "deny"."""
        return self.backend.consent

    @consent.setter
    def consent(self, value: str) -> None:
        if value not in ("approve", "deny"):
            raise ValueError("consent is 'approve' or 'deny'")
        self.backend.consent = value

    @property
    def issued_tokens(self) -> list[str]:
        """Return every access and refresh token ever issued, in any org."""
        with self.backend.lock:
            return list(self.backend.tokens.issued)

    def add_org(
        self,
        name: str | None = None,
        api_budget: int = 15000,
        *,
        deploy_seconds: float = 0.3,
        rotate_refresh_tokens: bool = False,
        port: int = 0,
        production: bool = False,
        approval_limit: int | None = DEFAULT_APPROVAL_LIMIT,
        api_versions: Sequence[str] | None = None,
        namespace: str | None = None,
    ) -> OrgHandle:
        """Create an org served on its own HTTPS port (0: a free one).

        `production`: refuses deploys with `testLevel` NoTestRun. `approval_limit`: approvals
        one user may hold through one app before the oldest is revoked (None: no limit).
        `api_versions`: the versions served (default 31.0 to 66.0). `namespace`: the prefix
        its StaticResources carry.
        """
        if self._pool is None:
            raise RuntimeError("start the emulator before adding orgs: `with Emulator() as emu:`")
        org = self.backend.add_org(
            name or f"org{len(self._orgs) + 1}",
            api_budget,
            deploy_seconds,
            rotate_refresh_tokens=rotate_refresh_tokens,
            production=production,
            approval_limit=approval_limit,
            api_versions=api_versions,
            namespace=namespace,
        )
        context = self._context(org, "", org.request_log)
        bound = self._pool.add(EmulatorApp(context), port)
        context.base_url = f"https://127.0.0.1:{bound}"
        self._instance_urls[org.org_id] = context.base_url
        handle = OrgHandle(self, org, context.base_url)
        self._orgs.append(handle)
        return handle

    def register_client(
        self,
        client_id: str,
        redirect_uris: Iterable[str] = (),
        jwt_certificate_pem: str | bytes | None = None,
        device_flow: bool = True,
        *,
        client_secret: str | None = None,
        scope: str = DEFAULT_SCOPE,
        org: OrgHandle | None = None,
        require_secret_web: bool = False,
        require_secret_refresh: bool = False,
        preauthorized: Iterable[str] | None = None,
    ) -> ConnectedApp:
        """Register a connected app / External Client App.

        `org` None: a packaged or legacy app that every org knows; otherwise a Local External
        Client App only that org knows. `require_secret_web` / `require_secret_refresh`: the
        app's two "Require secret" switches. `preauthorized`: the usernames the JWT flow
        accepts (None: every user).
        """
        app = new_connected_app(
            client_id,
            redirect_uris,
            jwt_certificate_pem,
            device_flow,
            client_secret=client_secret,
            scope=scope,
            org_id=org.org_id if org is not None else None,
            require_secret_web=require_secret_web,
            require_secret_refresh=require_secret_refresh,
            preauthorized=preauthorized,
        )
        self.backend.register(app)
        return app

    def login_as(self, username: str | None) -> None:
        """Make the following authorizations log in as this user, whatever `login_hint` says
        (as when a person types another username at the login page); None resets.
        """
        with self.backend.lock:
            self.backend.login_as = username

    def rekey_org(self, old_org_id: str, new_org_id: str, instance_url: str) -> None:
        """Point everything keyed by an org id at its new id (a refreshed sandbox)."""
        self._instance_urls[new_org_id] = instance_url
        self.fault_book.rekey(old_org_id, new_org_id)
