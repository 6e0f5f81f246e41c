"""Rules that relate several keys of an otherwise well-formed config.

Each returns (key path, problem) pairs rather than raising, so that the loader can report
every problem in the file at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from sfsync.config.schema import Config, EnvironmentSettings

Problem = tuple[tuple[str | int, ...], str]


def gate_problems(config: Config) -> list[Problem]:
    """Given a config, return the problems of its promotion gates (`requires` and `soak`)."""
    problems: list[Problem] = []
    for system_name, system in config.systems.items():
        for env_name, env in system.environments.items():
            where = ("systems", system_name, "environments", env_name)
            if env.soak is not None and env.requires is None:
                problems.append(((*where, "soak"), 'soak only has a meaning with requires = "ENV"'))
            if env.requires is None:
                continue
            if env.requires == env_name:
                problems.append(((*where, "requires"), "an environment cannot require itself"))
            elif env.requires not in system.environments:
                known = ", ".join(sorted(system.environments))
                problems.append(
                    (
                        (*where, "requires"),
                        (
                            f"{env.requires!r} is not an environment of system {system_name!r} "
                            f"(it has: {known})"
                        ),
                    )
                )
            elif _gate_cycle(system.environments, env_name):
                problems.append(((*where, "requires"), "the requires chain forms a loop"))
    return problems


def _gate_cycle(environments: Mapping[str, EnvironmentSettings], start: str) -> bool:
    seen = {start}
    current = environments[start].requires
    while current is not None and current in environments:
        if current in seen:
            return True
        seen.add(current)
        current = environments[current].requires
    return False


def duplicate_resource_problems(config: Config) -> list[Problem]:
    """Given a config, return a problem for each system whose Static Resource name another uses.

    Two systems writing one resource name would overwrite each other in any org they share,
    and Salesforce compares these names without regard to case.
    """
    first_by_name: dict[str, str] = {}
    problems: list[Problem] = []
    for system_name, system in config.systems.items():
        key = system.resource.lower()
        if key in first_by_name:
            problems.append(
                (
                    ("systems", system_name, "resource"),
                    (
                        f"{system.resource!r} is already the resource of system "
                        f"{first_by_name[key]!r}; each system needs its own"
                    ),
                )
            )
        else:
            first_by_name[key] = system_name
    return problems


def client_id_problems(config: Config) -> list[Problem]:
    """Given a config, return a problem for each environment left without a consumer key: its
    own `client_id` or, failing that, `[oauth] client_id`.
    """
    if config.oauth.client_id is not None:
        return []
    return [
        (
            ("systems", system_name, "environments", env_name, "client_id"),
            (
                "no consumer key: set client_id here (the org's External Client App) or a "
                "default in [oauth] client_id"
            ),
        )
        for system_name, system in config.systems.items()
        for env_name, env in system.environments.items()
        if env.client_id is None
    ]


# The consumer keys the example config and the README show; a real one never ends in "...".
EXAMPLE_CLIENT_IDS = frozenset({"3MVG9...", "3MVG9sandbox...", "3MVG9production..."})


def is_placeholder_client_id(client_id: str) -> bool:
    """Given a consumer key, return whether it is the example's placeholder, not a real key."""
    return client_id in EXAMPLE_CLIENT_IDS or client_id.rstrip().endswith(("...", "\u2026"))


def placeholder_client_id_problems(config: Config) -> list[Problem]:
    """Given a config, return a problem for each `client_id` still holding the example's
    placeholder (`3MVG9...`): every authorization with it would fail at Salesforce.
    """
    advice = (
        "is the example's placeholder; paste the External Client App's consumer key "
        "(Setup > External Client App Manager > the app > Settings > OAuth Settings > "
        "Consumer Key and Secret)"
    )
    problems: list[Problem] = []
    if config.oauth.client_id is not None and is_placeholder_client_id(config.oauth.client_id):
        problems.append((("oauth", "client_id"), f"{config.oauth.client_id!r} {advice}"))
    for system_name, system in config.systems.items():
        for env_name, env in system.environments.items():
            if env.client_id is not None and is_placeholder_client_id(env.client_id):
                problems.append(
                    (
                        ("systems", system_name, "environments", env_name, "client_id"),
                        f"{env.client_id!r} {advice}",
                    )
                )
    return problems
