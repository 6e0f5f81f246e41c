"""Finding what each system's source offers now: the newest settled entry of a drop folder,
or the package behind a URL (downloaded into `state_dir/sources/SYSTEM`, conditionally).
"""

from __future__ import annotations

import threading

import requests

from sfsync.config import Connector
from sfsync.config.schema import Config, DirSource, HttpSource
from sfsync.sources.directory import find_package
from sfsync.sources.http import Fetched, HttpPackageSource, http_session_for
from sfsync.sources.located import Located


class SourceLocator:
    """Locates packages for every system of one config; http sources keep their cache and
    validators for the locator's life, so repeated checks cost one 304 each.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._http: dict[str, HttpPackageSource] = {}

    def __call__(self, connector: Connector, now: float) -> Located:
        """Given a connector and the time, return the package its source offers now.

        Raise NothingPublishedError when there is none yet, SourceError when the source fails.
        """
        source = connector.source
        if isinstance(source, DirSource):
            return Located(find_package(source.path, now, source.settle))
        fetched = self.fetch(connector.system, source)
        return Located(fetched.path, fetched.version)

    def fetch(self, system: str, source: HttpSource) -> Fetched:
        """Given a system and its http source, fetch what the URL serves (one 304 if unchanged)."""
        return self._http_source(system, source).fetch()

    def _http_source(self, system: str, source: HttpSource) -> HttpPackageSource:
        with self._lock:
            if system not in self._http:
                if self._session is None:
                    self._session = http_session_for(self._config)
                self._http[system] = HttpPackageSource(
                    system,
                    source,
                    self._config.daemon.state_dir / "sources" / system,
                    self._session,
                    self._config.salesforce.timeout.total_seconds(),
                )
            return self._http[system]
