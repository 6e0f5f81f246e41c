"""The requests.Session every call to Salesforce and to an http source uses: the configured
trust and a default timeout.

`requests` lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`
(psf/requests#3829). This session gives its own `verify` to every request that names none, so a
configured `ca_bundle` (or the emulator's CA) wins over the environment; with no bundle
configured, the environment's bundle still applies, as operators expect.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from sfsync.config.schema import Config, is_loopback_host
from sfsync.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from requests.sessions import _Settings

USER_AGENT = "sfsync"


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


def system_trust() -> ssl.SSLContext:
    """Return a new TLS context trusting the system's CAs, to share between sessions: each
    context holds its own copy of the CA store (almost 1 MB), and the daemon keeps a session
    per connector.
    """
    return ssl.create_default_context()


class _ExtraTrustAdapter(HTTPAdapter):
    """Trusts the system's CAs plus the bundle given as `verify`, instead of that bundle only:
    `ca_bundle` names an extra CA (a TLS-intercepting proxy's), not a replacement.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context  # before super().__init__, which builds the pool manager
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


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
    ) -> None:
        super().__init__()
        if not follow_redirects:
            # Token, revoke and API requests never follow redirects (SPEC section 7): one would
            # carry a token or a secret to wherever it points. simple-salesforce sends through
            # this session too, so the rule is the session's, not each call's.
            self.max_redirects = 0
        self.verify = str(settings.verify) if isinstance(settings.verify, Path) else settings.verify
        self.default_timeout = settings.timeout
        self.headers["User-Agent"] = USER_AGENT
        if isinstance(settings.verify, Path):
            self.mount("https://", _ExtraTrustAdapter(trust or system_trust()))

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
        """
        if verify is None:
            verify = self.verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


def new_http_session(
    settings: HttpSettings,
    trust: ssl.SSLContext | None = None,
    *,
    follow_redirects: bool = False,
) -> SalesforceHttpSession:
    """Given the HTTP settings and optionally a `system_trust()` context shared with other
    sessions, return a fresh session: for Salesforce calls (no redirects followed), or, with
    `follow_redirects`, for downloads from an http source.

    Raise ConfigError if the configured CA bundle is not a readable file.
    """
    if isinstance(settings.verify, Path) and not settings.verify.is_file():
        raise ConfigError(
            f"[oauth] ca_bundle {settings.verify} is not a file; give the PEM file of the extra CA"
        )
    return SalesforceHttpSession(settings, trust, follow_redirects=follow_redirects)
