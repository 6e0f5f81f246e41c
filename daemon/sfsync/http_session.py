"""The requests.Session every call to Salesforce and to an http source uses: the configured
trust and a default timeout.

`requests` lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`
(psf/requests#3829). This session gives its own `verify` to every request that names none, so a
configured `ca_bundle` (or the emulator's CA) wins over the environment; with no bundle
configured, the environment's bundle still applies, as operators expect.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from sfsync.config.schema import Config, is_loopback_host
from sfsync.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs
    from requests.models import PreparedRequest
    from requests.sessions import _Settings

USER_AGENT = "sfsync"
# Hosts whose connection pools are kept (least recently used dropped): at least the daemon's
# concurrency, so the orgs being pushed to keep their connections while other orgs come and go.
KEPT_HOSTS = 64
# Connections kept per host: at least the threads that send to one host at once (`status`
# checks `actions.status.CHECKS_AT_ONCE` connectors at a time, often on one login host). urllib3
# closes a connection coming back to a full pool (10 by default), and the next request pays a
# new TLS handshake.
CONNECTIONS_PER_HOST = 64

# The connector whose call this thread is making, so that one session shared by every connector
# can tell whose answer it saw. A session's calls run in the thread that made them (urllib3 and
# simple-salesforce answer in the calling thread), so a context variable is exact.
_calling: ContextVar[str | None] = ContextVar("sfsync_calling_connector", default=None)


@contextmanager
def calling(connector: str) -> Iterator[None]:
    """Mark the requests sent inside as `connector`'s (see `calling_connector`)."""
    token = _calling.set(connector)
    try:
        yield
    finally:
        _calling.reset(token)


def calling_connector() -> str | None:
    """Return the connector whose request this thread is sending, or None outside `calling`."""
    return _calling.get()


@dataclass(frozen=True)
class HttpSettings:
    """How to reach Salesforce: trust (True, or an extra CA bundle, or False for loopback
    only) and the per-request timeout in seconds.
    """

    verify: bool | Path = True
    timeout: float = 60.0

    @classmethod
    def from_config(cls, config: Config) -> HttpSettings:
        """Given a config, return the settings its [oauth] and [salesforce] sections give."""
        return cls(
            verify=config.oauth.ca_bundle or True,
            timeout=config.salesforce.timeout.total_seconds(),
        )


def _requests_bundle() -> str:
    """Return the CA bundle requests verifies with when a request says only `verify=True`:
    REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE, else its default (requests' own order). A bank's
    TLS-inspecting proxy is often trusted through the first.
    """
    return (
        os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or requests.adapters.DEFAULT_CA_BUNDLE_PATH
    )


def system_trust() -> ssl.SSLContext:
    """Return a new TLS context trusting the system's CAs, to share between sessions: each
    context holds its own copy of the CA store (almost 1 MB), and the daemon keeps a session
    per connector.
    """
    return ssl.create_default_context()


class _BundleOnceAdapter(HTTPAdapter):
    """Trusts what its context holds plus a CA bundle loaded into it once, at the first
    connection: requests names the bundle to urllib3 for every new connection, which parses
    the PEM into a TLS context again each time. For requests' own bundle (certifi's or the
    system's, about 150 CAs) that cost 42-60 ms of CPU per connection on the bench box, and the
    daemon opens a connection to every org at every publish: at 10,000 orgs, minutes of CPU.

    Two uses: with `verify = True`, an empty context and requests' default bundle (the same
    trust as requests', loaded once); with `ca_bundle`, the system's CAs plus that bundle, which
    names an extra CA (a TLS-intercepting proxy's), not a replacement. With `verify = True`
    the bundle is the one requests picks then, REQUESTS_CA_BUNDLE's first (`_requests_bundle`).
    A bundle that does not load, or another than the one named here, is left to urllib3, which
    parses it for each connection as before.
    """

    def __init__(self, context: ssl.SSLContext, bundle: str) -> None:
        self._context = context  # before super().__init__, which builds the pool manager
        self._bundle = bundle
        self._bundle_lock = threading.Lock()
        self._bundle_loaded: bool | None = None
        super().__init__(pool_connections=KEPT_HOSTS, pool_maxsize=CONNECTIONS_PER_HOST)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def build_connection_pool_key_attributes(
        self,
        request: PreparedRequest,
        verify: bool | str,
        cert: str | tuple[str, str] | None = None,
    ) -> tuple[_HostParams, _PoolKwargs]:
        """Return the pool key as requests builds it, without the bundle the context holds."""
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        if pool.get("ca_certs") == self._bundle and self._load_bundle():
            del pool["ca_certs"]
        return host, pool

    def cert_verify(
        self, conn: Any, url: str, verify: bool | str, cert: str | tuple[str, str] | None
    ) -> None:
        """Set the pool's trust as requests does, without the bundle the context holds."""
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        if getattr(conn, "ca_certs", None) == self._bundle and self._load_bundle():
            conn.ca_certs = None

    def _load_bundle(self) -> bool:
        """Load the bundle into the context unless done; return whether it is in there."""
        with self._bundle_lock:
            if self._bundle_loaded is None:
                try:
                    self._context.load_verify_locations(self._bundle)
                    self._bundle_loaded = True
                except (OSError, ssl.SSLError):
                    self._bundle_loaded = False
            return self._bundle_loaded


class _NoNetrc(requests.auth.AuthBase):
    """A session-wide auth that adds nothing: with one set, requests no longer looks in
    ~/.netrc for every request (its own rule), so a `default` or matching entry there can never
    replace the Bearer token with Basic credentials or send them to Salesforce.
    """

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        return request


class SalesforceHttpSession(requests.Session):
    """A requests.Session whose own `verify` beats the environment and whose requests time
    out after `default_timeout` unless told otherwise.
    """

    def __init__(
        self,
        settings: HttpSettings,
        trust: ssl.SSLContext | None = None,
        *,
        follow_redirects: bool = False,
        pools: requests.Session | None = None,
    ) -> None:
        super().__init__()
        if not follow_redirects:
            # Token, revoke and API requests never follow redirects (SPEC section 7): one would
            # carry a token or a secret to wherever it points. simple-salesforce sends through
            # this session too, so the rule is the session's, not each call's.
            self.max_redirects = 0
            self.auth = _NoNetrc()  # the auth of a Salesforce call is its own header, never netrc
        self.verify = str(settings.verify) if isinstance(settings.verify, Path) else settings.verify
        self.default_timeout = settings.timeout
        self._environment: dict[tuple[str, str, bool | str], _Settings] = {}
        self.headers["User-Agent"] = USER_AGENT
        if pools is not None:
            # The adapters hold the connection pools and their TLS state: one set for every
            # connector's session, not one each (idle memory grew with every connector pushed).
            self.adapters.clear()
            for prefix, adapter in pools.adapters.items():
                self.mount(prefix, adapter)
        elif isinstance(settings.verify, Path):
            extra = _BundleOnceAdapter(trust or system_trust(), str(settings.verify))
            self.mount("https://", extra)
        elif settings.verify is True:
            empty = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, trusts nothing yet
            self.mount("https://", _BundleOnceAdapter(empty, _requests_bundle()))
        else:
            self.mount(
                "https://",
                HTTPAdapter(pool_connections=KEPT_HOSTS, pool_maxsize=CONNECTIONS_PER_HOST),
            )

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send a request as requests does, with the default timeout and the loopback rule."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        verify = kwargs.get("verify", self.verify)
        host = urlsplit(url.decode() if isinstance(url, bytes) else url).hostname or ""
        if verify is False and not is_loopback_host(host):
            raise UsageError(
                f"refusing to call {host} without TLS verification; only loopback hosts may "
                "skip it (set [oauth] ca_bundle for a private CA)"
            )
        return super().request(method, url, *args, **kwargs)

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> _Settings:
        """Merge as requests does, except that the session's own `verify` is given first, so
        REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE cannot replace a configured bundle.

        A plain request's settings are worked out once per origin: requests reads the proxy
        variables from the whole environment for every request otherwise (about as much CPU
        as the rest of a request's Python), and the daemon's environment does not change.
        """
        if verify is None:
            verify = self.verify
        if proxies or stream is not None or cert is not None or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        scheme, netloc, *_ = urlsplit(url)
        key = (scheme, netloc, verify)
        settings = self._environment.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}  # requests may add to it


def new_http_session(
    settings: HttpSettings,
    trust: ssl.SSLContext | None = None,
    *,
    follow_redirects: bool = False,
    pools: requests.Session | None = None,
) -> SalesforceHttpSession:
    """Given the HTTP settings and optionally a `system_trust()` context shared with other
    sessions, return a fresh session: for Salesforce calls (no redirects followed), or, with
    `follow_redirects`, for downloads from an http source. With `pools`, the new session sends
    through that session's connection pools (and their trust) instead of its own.

    Raise ConfigError if the configured CA bundle is not a readable file.
    """
    if isinstance(settings.verify, Path) and not settings.verify.is_file():
        raise ConfigError(
            f"[oauth] ca_bundle {settings.verify} is not a file; give the PEM file of the extra CA"
        )
    return SalesforceHttpSession(settings, trust, follow_redirects=follow_redirects, pools=pools)
