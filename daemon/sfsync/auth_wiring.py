"""Building what the authorization commands need from a loaded config, with production
defaults: the keyring token store, the HTTP session and a connector's session.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import requests

from sfsync.clock import utc_now
from sfsync.config import Connector, LoadedConfig
from sfsync.http_session import HttpSettings, calling_connector, new_http_session
from sfsync.locks import keyring_lock_path
from sfsync.salesforce.session import ConnectorSession
from sfsync.state.proofs import TokenProofs
from sfsync.tokens.backends import open_backend
from sfsync.tokens.caching import cached
from sfsync.tokens.keyring_store import KeyringTokenStore
from sfsync.tokens.store import TokenStore


@dataclass
class AuthDeps:
    """The seams of the authorization commands: where tokens are kept, how HTTP is sent, and
    what time it is.
    """

    loaded: LoadedConfig
    store: TokenStore
    http: requests.Session
    clock: Callable[[], datetime] = field(default=utc_now)
    # Observers for the daemon's metrics: every answer a connector gets, every token refresh.
    on_response: Callable[[str, requests.Response], None] | None = None
    on_refresh: Callable[[str, str], None] | None = None
    # Every successful token grant, until written to the state store (`state.proofs`).
    proofs: TokenProofs = field(default_factory=TokenProofs)
    _observed: requests.Session | None = field(default=None, init=False, repr=False)
    _observed_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def session(self, connector: Connector) -> ConnectorSession:
        """Return a session for one connector, its refreshes locked in `state_dir`, each
        successful token grant noted in `proofs`.
        """
        config = self.loaded.config
        return ConnectorSession(
            connector.name,
            store=self.store,
            http=self._http_for(),
            state_dir=config.daemon.state_dir,
            api_version=config.salesforce.api_version,
            clock=self.clock,
            on_refresh=self.on_refresh,
            on_proof=self.proofs.note,
        )

    def _http_for(self) -> requests.Session:
        if self.on_response is None:
            return self.http
        with self._observed_lock:
            if self._observed is None:
                self._observed = self._observed_session()
            return self._observed

    def _observed_session(self) -> requests.Session:
        """Return the one session whose hook sees every connector's answers, each named by
        `http_session.calling`. simple-salesforce sends through the session it is given, so a
        hook on it is the one place that sees them all. One session for every connector, sending
        through the shared session's pools and TLS context: a session each cost about 3 KB per
        connector kept (and a context each almost 1 MB).
        """
        http = new_http_session(HttpSettings.from_config(self.loaded.config), pools=self.http)

        def hook(response: requests.Response, *_args: object, **_kwargs: object) -> None:
            connector = calling_connector()
            if connector is not None and self.on_response is not None:
                self.on_response(connector, response)

        http.hooks["response"].append(hook)
        return http


def auth_deps(loaded: LoadedConfig, environ: Mapping[str, str] | None = None) -> AuthDeps:
    """Given a loaded config, return the production dependencies: the configured keyring
    (raise TokenStoreError if none is usable) and an HTTP session with the configured trust.

    The token store is cached (a file keyring's entries are read once per command while the
    file is unchanged): a command asks for a connector's record more than once (status reads
    it, then its refresh reads it again under the lock), and each cryptfile read costs Argon2.
    """
    config = loaded.config
    lock_path = keyring_lock_path(config.daemon.state_dir)
    backend = open_backend(config.keyring, os.environ if environ is None else environ, lock_path)
    return AuthDeps(
        loaded=loaded,
        store=cached(KeyringTokenStore(backend, lock_path)),
        http=new_http_session(HttpSettings.from_config(config)),
    )
