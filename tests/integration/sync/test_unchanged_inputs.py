"""A connector whose build inputs did not change is decided without building, in-process
against two emulated orgs with a real SQLite state store; any changed input builds and pushes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

import pytest

from sfsync.config import parse_config
from sfsync.errors import TokenStoreError
from sfsync.package.build import BuildOptions, BuiltPackage, PreparedPackage, build_prepared
from sfsync.sync import cycle
from sfsync.sync.result import Result
from sfsync.tokens.memory import MemoryTokenStore
from sfsync.tokens.record import StoredAuthorization
from sfsync_emulator import Emulator
from tests.fixtures.site import authorization
from tests.integration.sync.sync_site import (
    CLIENT,
    Site,
    daemon_checks,
    served_text,
    site_runtime,
)

Builds = list[str]


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Builds:
    """The connectors the cycle builds, in order (the real builder makes every one)."""
    made: Builds = []
    real: Callable[..., BuiltPackage] = build_prepared

    def counted(prepared: PreparedPackage, options: BuildOptions, *args: Any) -> BuiltPackage:
        made.append(options.connector)
        return real(prepared, options, *args)

    monkeypatch.setattr(cycle, "build_prepared", counted)
    return made


def outcomes(site: Site, **cycle_options: Any) -> dict[str, Result]:
    """Run one cycle over the site; return each connector's result."""
    with site_runtime(site) as runtime:
        report = runtime.cycle(**cycle_options)
    return {result.connector: result.outcome for result in report.results}


def test_unchanged_inputs_build_nothing(site: Site, builds: Builds) -> None:
    """The second cycle over the same package reports both connectors unchanged, with the
    first cycle's hashes and sizes, without building either or asking either org.
    """
    site.publish("walkme-1.zip", "release 1")
    with site_runtime(site) as runtime:
        first = runtime.cycle()
        built = sorted(builds)
        requests = site.requests_made()
        second = runtime.cycle()
    assert built == ["lightning/one", "lightning/two"]
    assert sorted(builds) == built
    assert site.requests_made() == requests
    assert [(r.outcome, r.sha256, r.size) for r in second.results] == [
        (Result.UNCHANGED, r.sha256, r.size) for r in first.results
    ]


def test_a_new_package_is_built_and_pushed(site: Site, builds: Builds) -> None:
    """A newly published package changes every key: both connectors are built and pushed."""
    site.publish("walkme-1.zip", "release 1")
    outcomes(site)
    site.publish("walkme-2.zip", "release 2", age=60.0)
    builds.clear()
    assert outcomes(site) == {"lightning/one": Result.PUSHED, "lightning/two": Result.PUSHED}
    assert sorted(builds) == ["lightning/one", "lightning/two"]
    assert [served_text(org) for org in site.orgs.values()] == ["release 2", "release 2"]


def test_changed_settings_are_built_and_pushed(site: Site, builds: Builds) -> None:
    """An override added to one connector's settings builds and pushes that connector only."""
    site.publish("walkme-1.zip", "release 1")
    outcomes(site)
    path = site.loaded.path
    text = path.read_text().replace(
        "[systems.lightning.environments.two]",
        "[systems.lightning.environments.two]\noverrides = { active = false }",
    )
    path.write_text(text)
    builds.clear()
    site = replace(site, loaded=parse_config(text, path))
    assert outcomes(site) == {"lightning/one": Result.UNCHANGED, "lightning/two": Result.PUSHED}
    assert builds == ["lightning/two"]


def test_a_gated_connector_is_built_when_its_gate_opens(site: Site, builds: Builds) -> None:
    """A connector soaking behind its gate stays gated without a build while its inputs are
    unchanged, and is built and pushed once the soak is over.
    """
    path = site.loaded.path
    text = path.read_text().replace(
        "[systems.lightning.environments.two]",
        '[systems.lightning.environments.two]\nrequires = "one"\nsoak = "4s"',
    )
    path.write_text(text)
    site = replace(site, loaded=parse_config(text, path))
    site.publish("walkme-1.zip", "release 1")
    assert outcomes(site) == {"lightning/one": Result.PUSHED, "lightning/two": Result.GATED}
    builds.clear()
    assert outcomes(site) == {"lightning/one": Result.UNCHANGED, "lightning/two": Result.GATED}
    assert builds == []
    time.sleep(4.1)  # the soak is timed on the wall clock the cycle reads
    assert outcomes(site) == {"lightning/one": Result.UNCHANGED, "lightning/two": Result.PUSHED}
    assert builds == ["lightning/two"]


def test_a_new_builder_version_is_built_and_pushed(
    site: Site, builds: Builds, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another sfsync version (written into every manifest) builds and pushes both again."""
    site.publish("walkme-1.zip", "release 1")
    outcomes(site)
    monkeypatch.setattr(cycle, "__version__", "99.0.0")
    builds.clear()
    assert outcomes(site) == {"lightning/one": Result.PUSHED, "lightning/two": Result.PUSHED}
    assert sorted(builds) == ["lightning/one", "lightning/two"]


def test_force_builds_and_pushes_unchanged_inputs(site: Site, builds: Builds) -> None:
    """--force pushes again what is live: the push needs the build, so it is made."""
    site.publish("walkme-1.zip", "release 1")
    outcomes(site)
    builds.clear()
    assert outcomes(site, force=True) == {
        "lightning/one": Result.PUSHED,
        "lightning/two": Result.PUSHED,
    }
    assert sorted(builds) == ["lightning/one", "lightning/two"]


def test_a_dry_run_records_no_build(site: Site, builds: Builds) -> None:
    """A dry run changes no state: the next real cycle still builds what it pushes."""
    site.publish("walkme-1.zip", "release 1")
    assert outcomes(site, dry_run=True) == {
        "lightning/one": Result.PLANNED,
        "lightning/two": Result.PLANNED,
    }
    builds.clear()
    assert outcomes(site) == {"lightning/one": Result.PUSHED, "lightning/two": Result.PUSHED}
    assert sorted(builds) == ["lightning/one", "lightning/two"]


def test_a_refreshed_sandbox_is_pushed_again(site: Site, builds: Builds, emu: Emulator) -> None:
    """Unchanged inputs whose token now belongs to another org (a refreshed sandbox) are built
    and pushed to it; the other connector stays unchanged without a build.
    """
    site.publish("walkme-1.zip", "release 1")
    outcomes(site)
    refreshed = emu.add_org(name="two-refreshed", deploy_seconds=0.0)
    site.tokens.put("lightning/two", authorization(refreshed, CLIENT))
    builds.clear()
    assert outcomes(site) == {"lightning/one": Result.UNCHANGED, "lightning/two": Result.PUSHED}
    assert builds == ["lightning/two"]
    assert served_text(refreshed) == "release 1"


def test_a_restarted_daemon_builds_nothing_unchanged(site: Site, builds: Builds) -> None:
    """The first check of a restarted daemon runs every connector over a package they all
    hold: each is reported unchanged without a build.
    """
    site.publish("walkme-1.zip", "release 1")
    with daemon_checks(site) as daemon:
        daemon.check()
    builds.clear()
    with daemon_checks(site) as restarted:
        results = restarted.check()
    assert {result.outcome for result in results} == {Result.UNCHANGED}
    assert len(results) == len(site.orgs)
    assert builds == []


class LockedStore(MemoryTokenStore):
    """A token store whose every read fails, as a locked keyring's does."""

    def get(self, connector: str) -> StoredAuthorization | None:
        """Refuse to read."""
        raise TokenStoreError(f"keyring could not read sfsync/{connector}: locked")

    def get_many(self, connectors: Collection[str]) -> dict[str, StoredAuthorization | None]:
        """Refuse to read."""
        raise TokenStoreError(f"keyring could not read {len(connectors)} entries: locked")


def test_an_unreadable_keyring_fails_each_connector(site: Site, builds: Builds) -> None:
    """With unchanged inputs and a keyring that cannot be read, each connector is reported
    failed with the keyring's error (as when it was built), and the cycle itself goes on.
    """
    site.publish("walkme-1.zip", "release 1")
    outcomes(site)
    with site_runtime(replace(site, tokens=LockedStore())) as runtime:
        report = runtime.cycle()
    assert [(r.outcome, "locked" in r.detail) for r in report.results] == [
        (Result.FAILED, True),
        (Result.FAILED, True),
    ]
