"""Every system's source for one config, opened once: http sources keep their cache and
validators for the opener's life, so a look at an unchanged URL costs one 304.
"""

from __future__ import annotations

import requests

from sfsync.config.schema import Config, DirSource
from sfsync.sources.directory import DirectorySource
from sfsync.sources.http import HttpPackageSource, http_session_for
from sfsync.sources.source import Source


def open_sources(config: Config) -> dict[str, Source]:
    """Given a config, return each system's source by system name; http sources share one
    session (made only if there is one) and cache in `state_dir/sources/SYSTEM`.

    Raise ConfigError if an http source needs the configured CA bundle and it is unreadable.
    """
    sources: dict[str, Source] = {}
    http: requests.Session | None = None
    for name, system in config.systems.items():
        source = system.source
        if isinstance(source, DirSource):
            sources[name] = DirectorySource(source.path, source.settle)
            continue
        http = http or http_session_for(config)
        sources[name] = HttpPackageSource(
            name,
            source,
            config.daemon.state_dir / "sources" / name,
            http,
            config.salesforce.timeout.total_seconds(),
        )
    return sources
