"""Connectors: the (system, environment) pairs a config describes, with every default resolved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from sfsync.config.schema import Config, DirSource, HttpSource
from sfsync.errors import UsageError

PRODUCTION_LOGIN_URL = "https://login.salesforce.com"
SANDBOX_LOGIN_URL = "https://test.salesforce.com"


@dataclass(frozen=True)
class Connector:
    """One (system, environment) pair: everything needed to build and push to one org."""

    system: str
    environment: str
    resource: str
    cache_control: Literal["Public", "Private"]
    source: DirSource | HttpSource
    settings_file: str
    login_url: str
    client_id: str
    api: Literal["tooling", "metadata"]
    overrides: dict[str, Any] = field(hash=False)
    verify: bool
    requires: str | None
    soak: timedelta | None

    @property
    def name(self) -> str:
        """Return the connector as operators write it: "system/environment"."""
        return f"{self.system}/{self.environment}"


def short_client_id(client_id: str) -> str:
    """Given a consumer key (85 characters for a real app), return it short enough for a table
    but still telling two apps apart: its first 8 and last 4 characters.
    """
    return client_id if len(client_id) <= 16 else f"{client_id[:8]}...{client_id[-4:]}"  # noqa: PLR2004


def default_login_url(environment: str) -> str:
    """Given an environment name, return the login host Salesforce uses for it by default."""
    return PRODUCTION_LOGIN_URL if environment == "production" else SANDBOX_LOGIN_URL


def resolve_connectors(config: Config) -> list[Connector]:
    """Given a validated config, return its connectors in file order, defaults resolved."""
    connectors = []
    for system_name, system in config.systems.items():
        for env_name, env in system.environments.items():
            connectors.append(
                Connector(
                    system=system_name,
                    environment=env_name,
                    resource=system.resource,
                    # Salesforce's CacheControl picklist takes "Public"/"Private" only.
                    cache_control="Public" if system.cache_control == "public" else "Private",
                    source=system.source,
                    settings_file=system.settings_file,
                    login_url=env.login_url or default_login_url(env_name),
                    # client_id_problems made sure one of the two is set.
                    client_id=env.client_id or config.oauth.client_id or "",
                    api=env.api,
                    overrides=dict(env.overrides),
                    verify=env.verify,
                    requires=env.requires,
                    soak=None if env.requires is None else (env.soak or timedelta(0)),
                )
            )
    return connectors


def select_connector(connectors: Sequence[Connector], name: str | None) -> Connector:
    """Given the configured connectors and a "system/environment" name (or None), return it.

    None selects the only connector when there is exactly one. Raise UsageError listing the
    valid names otherwise.
    """
    known = ", ".join(connector.name for connector in connectors)
    if name is None:
        if len(connectors) == 1:
            return connectors[0]
        raise UsageError(
            f"several connectors are configured; choose one with --connector ({known})"
        )
    for connector in connectors:
        if connector.name == name:
            return connector
    raise UsageError(f"no connector {name!r} in the config (configured: {known})")
