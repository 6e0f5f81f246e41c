"""The per-connector session every Salesforce call goes through.

The access token lives in memory only. A call answered 401 (Salesforce: INVALID_SESSION_ID; it
sends no `expires_in`) gets a fresh token and is retried once. A refresh is serialised per
connector across threads (a lock) and processes (a file lock in `state_dir`), re-reads the
keyring under the lock (another process may have rotated the refresh token), and writes a
rotated refresh token to the keyring before the new access token is used: racing or lost
rotations can get the whole token family revoked (SPEC section 7). A refresh that changed
nothing but the time writes nothing to the keyring (a file keyring is rewritten whole): its time
goes to `on_proof`, which the state store keeps (`state.proofs`). JWT connectors mint a new
assertion instead of refreshing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import requests
from filelock import FileLock, Timeout
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from sfsync.clock import utc_now
from sfsync.config.names import authorize_arguments
from sfsync.errors import (
    ApiError,
    AuthorizationError,
    SalesforceUnreachableError,
    StateError,
)
from sfsync.files import make_private_directories
from sfsync.http_session import calling
from sfsync.locks import refresh_lock_path
from sfsync.salesforce.key_file import read_private_key
from sfsync.salesforce.oauth import (
    RefreshRequest,
    jwt_assertion,
    jwt_audience,
    jwt_grant,
    refresh_grant,
)
from sfsync.salesforce.token_endpoint import TokenAnswer
from sfsync.salesforce.versions import VersionCheck
from sfsync.tokens.record import StoredAuthorization
from sfsync.tokens.store import TokenStore

T = TypeVar("T")
UNAUTHORIZED = 401
LOCK_TIMEOUT_SECONDS = 120.0


def read_key_file(path: Path) -> bytes:
    """Return the bytes of a JWT private key file; raise AuthorizationError if unreadable."""
    try:
        return read_private_key(path)
    except OSError as error:
        raise AuthorizationError(
            f"cannot read the JWT key {path}: {error.strerror}; fix the file or authorize again "
            "with --key"
        ) from None


class ConnectorSession:
    """Authenticated access to one connector's org: `request` for raw REST calls and
    `with_salesforce` for simple-salesforce calls.
    """

    def __init__(
        self,
        connector: str,
        *,
        store: TokenStore,
        http: requests.Session,
        state_dir: Path,
        api_version: str,
        clock: Callable[[], datetime] = utc_now,
        read_key: Callable[[Path], bytes] = read_key_file,
        on_refresh: Callable[[str, str], None] | None = None,
        on_proof: Callable[[str, datetime], None] | None = None,
    ) -> None:
        self.connector = connector
        self.api_version = api_version
        self.needs_authorization = False
        self._store = store
        self._http = http
        self._state_dir = state_dir
        self._clock = clock
        self._read_key = read_key
        self._on_refresh = on_refresh
        self._on_proof = on_proof
        self._thread_lock = threading.Lock()
        self._token: str | None = None
        self._record: StoredAuthorization | None = None
        self._versions: VersionCheck | None = None

    # -- what callers use -----------------------------------------------------------------

    @property
    def record(self) -> StoredAuthorization:
        """Return the connector's stored authorization (read once, then as refreshed)."""
        if self._record is None:
            self._record = self._load()
        return self._record

    @property
    def issued_at(self) -> str | None:
        """Return when the authorization in use was issued (None if none was read): the mark
        Salesforce's refusal leaves applies to that authorization only.
        """
        return self._record.issued_at if self._record is not None else None

    def request(self, method: str, url_or_path: str, **kwargs: Any) -> requests.Response:
        """Send a request with the connector's access token and return the answer.

        A path is taken relative to the org's instance URL. A 401 gets one refresh and one
        retry. Raise AuthorizationError if the connector must be re-authorized,
        SalesforceUnreachableError if the org cannot be reached.
        """
        with calling(self.connector):
            token = self.access_token()
            response = self._send(method, url_or_path, token, kwargs)
            if response.status_code == UNAUTHORIZED:
                token = self._renew(stale=token)
                response = self._send(method, url_or_path, token, kwargs)
            return response

    def with_salesforce(self, call: Callable[[Salesforce], T]) -> T:
        """Run `call` with a simple-salesforce client on this session; on
        SalesforceExpiredSession, refresh and run it once more with a fresh client (the client
        caches the session id and its headers, FACTS 3c).
        """
        with calling(self.connector):
            token = self.access_token()
            try:
                return call(self._client(token))
            except SalesforceExpiredSession:
                token = self._renew(stale=token)
            try:
                return call(self._client(token))
            except SalesforceExpiredSession:
                raise ApiError(
                    f"{self.connector}: Salesforce refused a session it had just issued; check "
                    "that the app grants the 'api' scope"
                ) from None

    def require_api_version(self) -> None:
        """Raise UnsupportedApiVersionError if the org does not serve this session's API
        version (its unauthenticated versions list, read at most once per session).
        """
        if self._versions is None:
            self._versions = VersionCheck(self._http)
        with calling(self.connector):
            self._versions.require(self.api_version, self.record.instance_url)

    def access_token(self) -> str:
        """Return a current access token, getting one first if the session has none."""
        token = self._token
        return token if token is not None else self._renew(stale=None)

    def refresh(self) -> None:
        """Get a new access token now (the keep-alive uses this)."""
        self._renew(stale=self._token)

    # -- how it is done -----------------------------------------------------------------

    def _client(self, token: str) -> Salesforce:
        return Salesforce(
            instance_url=self.record.instance_url,
            session_id=token,
            session=self._http,
            version=self.api_version,
        )

    def _send(
        self, method: str, url_or_path: str, token: str, kwargs: dict[str, Any]
    ) -> requests.Response:
        url = url_or_path
        if url_or_path.startswith("/"):
            url = self.record.instance_url + url_or_path
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {token}"
        try:
            # A redirect would carry the Bearer token to wherever it points (SPEC section 7).
            return self._http.request(method, url, headers=headers, allow_redirects=False, **kwargs)
        except requests.RequestException as error:
            raise SalesforceUnreachableError(
                f"{self.connector}: {method} {url} got no answer ({type(error).__name__})"
            ) from None
        finally:
            kwargs["headers"] = headers

    def _load(self) -> StoredAuthorization:
        record = self._store.get(self.connector)
        if record is None:
            self.needs_authorization = True
            raise AuthorizationError(
                f"{self.connector} is not authorized; run "
                f"`sfsync authorize {authorize_arguments(self.connector)}`"
            )
        return record

    def _renew(self, stale: str | None) -> str:
        with self._thread_lock, calling(self.connector):
            if self._token is not None and self._token != stale:
                return self._token  # another thread renewed while this one waited
            if self.needs_authorization:
                raise AuthorizationError(
                    f"{self.connector} needs authorization; run "
                    f"`sfsync authorize {authorize_arguments(self.connector)}`"
                )
            try:
                with self._locked(self._family_lock_path()):
                    # Under the lock, the keyring is the truth: another process may have
                    # rotated the refresh token since this one read it.
                    record = self._current_record()
                    self._record = record  # so a refusal names the authorization refused
                    answer = self._grant(record)
                    now = self._clock()
                    renewed = record.with_refresh(answer.refresh_token, answer.instance_url, now)
                    # Rotation: the new refresh token is kept before the new access token is
                    # used; if this write fails, the token is never used. A refresh that
                    # changed nothing but the time is not written: `on_proof` keeps the time.
                    if replace(renewed, refreshed_at=record.refreshed_at) != record:
                        self._store.put(self.connector, renewed)
                    if answer.refresh_token and answer.refresh_token != record.refresh_token:
                        self._rotate_siblings(record, answer)
            except AuthorizationError:
                self.needs_authorization = True
                self._report("needs_authorization")
                raise
            except Exception:
                self._report("failed")
                raise
            self._record = renewed
            self._token = answer.access_token
            if self._on_proof is not None:
                self._on_proof(self.connector, now)
            self._report("rotated" if answer.refresh_token else "refreshed")
            return answer.access_token

    def _family_lock_path(self) -> Path:
        """Return the lock that serialises this connector's refreshes: connectors authorized
        together share one refresh token, and two refreshes of one rotating token would get the
        whole family revoked, so they share one lock (named after the first of them).
        """
        record = self._record if self._record is not None else self._load()
        lead = min(record.shared_with) if record.shared_with else self.connector
        return refresh_lock_path(self._state_dir, lead)

    def _current_record(self) -> StoredAuthorization:
        """Return this connector's record as the keyring holds it now, taking the newer refresh
        token of a sibling when one was rotated there and not yet written here (a process
        stopped between the two writes).
        """
        record = self._load()
        newest = record
        for sibling in record.siblings(self.connector):
            other = self._store.get(sibling)
            if (
                other is not None
                and other.refresh_token
                and other.refresh_token != record.refresh_token
                and record.connector_in(other)
                and (other.refreshed_at or "") > (newest.refreshed_at or "")
            ):
                newest = other
        if newest is record:
            return record
        adopted = record.with_refresh(newest.refresh_token, newest.instance_url, self._clock())
        self._store.put(self.connector, adopted)
        return adopted

    def _rotate_siblings(self, old: StoredAuthorization, answer: TokenAnswer) -> None:
        """Write a rotated refresh token to every sibling entry that held the old one."""
        for sibling in old.siblings(self.connector):
            other = self._store.get(sibling)
            if other is not None and other.refresh_token == old.refresh_token:
                self._store.put(
                    sibling,
                    other.with_refresh(answer.refresh_token, answer.instance_url, self._clock()),
                )

    def _grant(self, record: StoredAuthorization) -> TokenAnswer:
        if record.refresh_token is not None:
            request = RefreshRequest(
                base_url=record.instance_url,
                login_url=record.login_url,
                client_id=record.client_id,
                refresh_token=record.refresh_token,
                client_secret=record.client_secret,
            )
            return refresh_grant(self._http, request, self.connector)
        if record.username is None or record.key_path is None:
            raise AuthorizationError(f"{self.connector}: stored JWT settings are incomplete")
        assertion = jwt_assertion(
            record.client_id,
            record.username,
            jwt_audience(record.login_url),
            self._read_key(Path(record.key_path)),
            self._clock(),
        )
        return jwt_grant(self._http, record.login_url, assertion, self.connector)

    @contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        try:
            make_private_directories(path.parent)
        except OSError as error:
            raise StateError(
                f"cannot create {path.parent} for the refresh lock: {error.strerror}"
            ) from None
        lock = FileLock(str(path), timeout=LOCK_TIMEOUT_SECONDS, mode=0o600)
        try:
            lock.acquire()
        except Timeout:
            raise StateError(
                f"{path}: another sfsync process has been refreshing "
                f"{self.connector} for over {LOCK_TIMEOUT_SECONDS:g}s; is one stuck?"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def _report(self, result: str) -> None:
        if self._on_refresh is not None:
            self._on_refresh(self.connector, result)
