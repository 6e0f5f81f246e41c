"""Choosing a connector by --env and --system, as `authorize` and `revoke` take them."""

from __future__ import annotations

from collections.abc import Sequence

from sfsync.config import Connector
from sfsync.errors import UsageError


def select_by_environment(
    connectors: Sequence[Connector], environment: str, system: str | None
) -> Connector:
    """Given the configured connectors, --env and --system (None when left out), return the
    connector meant. --system may be left out when one system is configured.

    Raise UsageError listing the valid systems or environments otherwise.
    """
    systems = list(dict.fromkeys(connector.system for connector in connectors))
    if system is None:
        if len(systems) != 1:
            raise UsageError(
                f"several systems are configured; choose one with --system ({', '.join(systems)})"
            )
        system = systems[0]
    if system not in systems:
        raise UsageError(f"no system {system!r} in the config (configured: {', '.join(systems)})")
    environments = [c.environment for c in connectors if c.system == system]
    for connector in connectors:
        if connector.system == system and connector.environment == environment:
            return connector
    raise UsageError(
        f"system {system!r} has no environment {environment!r} "
        f"(configured: {', '.join(environments)})"
    )


def select_for_authorize(
    connectors: Sequence[Connector],
    environment: str,
    systems: Sequence[str],
    *,
    all_systems: bool,
) -> list[Connector]:
    """Given the configured connectors, --env, the --system options (maybe several) and
    --all-systems, return the connectors to authorize in one round trip, in config order.

    Raise UsageError naming the valid choices otherwise.
    """
    if all_systems:
        if systems:
            raise UsageError("give --system or --all-systems, not both")
        chosen = [c for c in connectors if c.environment == environment]
        if not chosen:
            environments = ", ".join(dict.fromkeys(c.environment for c in connectors))
            raise UsageError(
                f"no system has environment {environment!r} (configured: {environments})"
            )
        return chosen
    if len(systems) <= 1:
        return [select_by_environment(connectors, environment, systems[0] if systems else None)]
    picked = [select_by_environment(connectors, environment, system) for system in systems]
    return list({connector.name: connector for connector in picked}.values())
