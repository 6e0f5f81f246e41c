"""Hostile input (issue 8, item 2): every package and config of the corpus is refused with the
documented exit code (2) and a one-line reason naming the entry or key, nothing reaches the
org it was meant for, and the daemon keeps serving the other system while refusing them.

The site has two systems on two emulated orgs: `alpha` gets the hostile packages, `beta` good
ones, so an org's request log shows what reached it. Every case is checked in process; at
"quick" scale a representative few go through the real CLI one by one, at "full" scale all of
them; the daemon test publishes the whole package corpus at either scale.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfsync.config.load import load_config
from sfsync.errors import ConfigError, PackageError
from sfsync.package.build import BuildOptions, build_package
from sfsync.package.read import read_package
from sfsync_emulator import Emulator
from tests.fixtures.daemon_support import Daemon
from tests.fixtures.site import CLIENT_ID, SFSYNC, cli_env
from tests.fixtures.wait import wait_until
from tests.reliability.hostile.corpus import (
    CONFIGS,
    LIMITS,
    PACKAGES,
    BadConfig,
    BadPackage,
    good_package,
    site_config,
)
from tests.reliability.hostile.site import (
    RESOURCES,
    TwoSystemSite,
    start_daemon,
    two_system_site,
)

pytestmark = pytest.mark.slow

FULL = os.environ.get("RELIABILITY_SCALE", "quick") == "full"
CLI_PACKAGES = [case for case in PACKAGES if FULL or case.representative]
CLI_CONFIGS = [case for case in CONFIGS if FULL or case.representative]
# Per case: did it give the documented exit code, one line, and push nothing? Summarised by
# test_zz_cli_figures, which runs after them (a module's tests run in file order).
_CLI_OUTCOMES: dict[str, dict[str, bool]] = {"packages": {}, "configs": {}}
_CLI_PUSHED_FROM_BAD: dict[str, int] = {}  # case -> pushes to alpha's org during its run
_versions = itertools.count(1)


def package_param(case: BadPackage) -> object:
    """Return a parametrize case named after the package."""
    return pytest.param(case, id=case.name)


def config_param(case: BadConfig) -> object:
    """Return a parametrize case named after the config."""
    return pytest.param(case, id=case.name)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """One emulator for the module; each site adds its own orgs."""
    with Emulator() as emulator:
        emulator.register_client(CLIENT_ID, [])
        yield emulator


@pytest.fixture(scope="module")
def site(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> TwoSystemSite:
    """A two-system site shared by the CLI cases, both connectors authorized (so anything
    accepted from alpha would really be pushed).
    """
    built = two_system_site(tmp_path_factory.mktemp("hostile-cli"), emu)
    built.authorize("alpha")
    built.authorize("beta")
    return built


# -- every case, in process -------------------------------------------------------------------


def read_and_build(path: Path) -> None:
    """Read and build a package as the cycle does for alpha/sandbox (whose overrides need a
    settings file).
    """
    options = BuildOptions(
        connector="alpha/sandbox",
        overrides={"active": True},
        source_version="corpus",
        sfsync_version="test",
        limits=LIMITS,
    )
    build_package(read_package(path, LIMITS), options)


def refuse(case: BadPackage, folder: Path, scratch: Path) -> PackageError:
    """Place the case's package into `folder`, read and build it; return the refusal."""
    path = case.place(folder, scratch)
    with pytest.raises(PackageError) as caught:
        read_and_build(path)
    return caught.value


def assert_names_package(case: BadPackage, message: str) -> None:
    """Check a refusal message is one line carrying the case's reason and entry."""
    assert message.splitlines() == [message], message  # no line break of any kind
    assert case.reason in message, message
    if case.entry is not None:
        assert repr(case.entry) in message, message


@pytest.mark.parametrize("case", [package_param(case) for case in PACKAGES])
def test_package_is_refused_in_process(case: BadPackage, tmp_path: Path) -> None:
    """Each corpus package raises its own PackageError class, one line naming the entry."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "scratch").mkdir()
    error = refuse(case, tmp_path / "folder", tmp_path / "scratch")
    assert type(error) is case.refusal, f"{type(error).__name__}: {error}"
    assert error.exit_status == 2
    if case.entry is not None:
        assert error.entry == case.entry
    assert_names_package(case, str(error))


def write_config(case: BadConfig, folder: Path) -> Path:
    """Write the case's config into `folder`; return its path."""
    text = case.edit(site_config())
    path = folder / "sfsync.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def assert_config_lines(case: BadConfig, path: Path, lines: list[str]) -> None:
    """Check every line names the file, and one names the case's key and problem."""
    assert lines
    assert all(line.startswith(f"{path}: ") for line in lines), lines
    wanted = f"{path}: at '{case.key}': " if case.key is not None else f"{path}: "
    assert any(line.startswith(wanted) and case.reason in line for line in lines), lines


def test_base_config_is_valid(tmp_path: Path) -> None:
    """The config every bad one is derived from loads: each case breaks only its own rule."""
    path = tmp_path / "sfsync.toml"
    path.write_text(site_config())
    assert len(load_config(path).connectors) == 2


@pytest.mark.parametrize("case", [config_param(case) for case in CONFIGS])
def test_config_is_refused_in_process(case: BadConfig, tmp_path: Path) -> None:
    """Each corpus config raises ConfigError, one `FILE: at 'KEY': problem` line per problem."""
    path = write_config(case, tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.exit_status == 2
    assert_config_lines(case, path, str(caught.value).splitlines())


# -- packages through the real CLI ------------------------------------------------------------


def test_control_good_package_in_alpha_is_pushed(site: TwoSystemSite) -> None:
    """A good package in alpha's folder is pushed (exit 0): the harness would see a push."""
    site.clear("alpha")
    (site.drops["alpha"] / "good.zip").write_bytes(good_package(0))
    pushes = site.pushes("alpha")
    done = site.run("sync", "--connector", "alpha/sandbox")
    assert done.returncode == 0, done.stdout + done.stderr
    assert site.pushes("alpha") == pushes + 1


@pytest.mark.parametrize("case", [package_param(case) for case in CLI_PACKAGES])
def test_bad_package_exits_2_and_beta_still_pushes(
    site: TwoSystemSite, case: BadPackage, tmp_path: Path
) -> None:
    """`sfsync sync` with a bad package in alpha and a good one in beta: exit 2, one line for
    alpha naming the entry and the reason, no request reaches alpha's org, beta goes live.
    """
    outcome = _CLI_OUTCOMES["packages"]
    outcome[case.name] = False
    site.clear("alpha")
    case.place(site.drops["alpha"], tmp_path)
    version = next(_versions)
    site.publish_good(version)
    requests, pushes = site.requests("alpha"), site.pushes("alpha")
    done = site.run("sync")
    _CLI_PUSHED_FROM_BAD[case.name] = site.pushes("alpha") - pushes
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == "", done.stderr
    assert "Traceback" not in done.stdout
    rows = done.stdout.splitlines()
    assert len(rows) == 3, rows  # header, alpha, beta
    alpha = [row for row in rows if row.startswith("alpha/sandbox ")]
    assert len(alpha) == 1, rows
    assert alpha[0].split()[1] == "invalid", alpha[0]
    assert_names_package(case, alpha[0])
    assert site.requests("alpha") == requests, "a request reached alpha's org"
    assert site.pushes("alpha") == pushes
    assert site.served_version("beta") == version, rows
    outcome[case.name] = True


# -- configs through the real CLI -------------------------------------------------------------


@pytest.mark.parametrize("case", [config_param(case) for case in CLI_CONFIGS])
def test_bad_config_exits_2_with_one_line_per_problem(case: BadConfig, tmp_path: Path) -> None:
    """`config check` and `sync` with a bad config: exit 2, only `sfsync: error: FILE: ...`
    lines naming the key, no traceback, and nothing created beside the config (no state_dir).
    """
    outcome = _CLI_OUTCOMES["configs"]
    outcome[case.name] = False
    folder = tmp_path / "site"
    folder.mkdir()
    path = write_config(case, folder)
    env = cli_env({"HOME": str(tmp_path / "home")})
    # The two commands run at once: each costs an interpreter start-up.
    runs = [
        subprocess.Popen(
            [str(SFSYNC), "--config", str(path), *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in (("config", "check"), ("sync",))
    ]
    results = [(run, *run.communicate(timeout=120)) for run in runs]
    for run, out, err in results:
        assert run.returncode == 2, out + err
        assert out == ""
        assert "Traceback" not in err
        lines = err.splitlines()
        assert all(line.startswith("sfsync: error: ") for line in lines), lines
        assert_config_lines(case, path, [line.removeprefix("sfsync: error: ") for line in lines])
    assert sorted(folder.iterdir()) == [path], "something was created beside the config"
    outcome[case.name] = True


def test_zz_cli_figures(figures: Any) -> None:
    """Record the corpus size and how many CLI cases held (this module's tests run in order)."""
    figures.add("hostile input", "corpus: bad packages", len(PACKAGES))
    figures.add("hostile input", "corpus: bad configs", len(CONFIGS))
    for kind, expected in (("packages", CLI_PACKAGES), ("configs", CLI_CONFIGS)):
        outcomes = _CLI_OUTCOMES[kind]
        held = sum(outcomes.values())
        figures.add(
            "hostile input",
            f"CLI {kind}: documented exit code and one-line reason",
            f"{held}/{len(expected)}",
            held=held == len(expected) == len(outcomes),
        )
    pushed = sum(_CLI_PUSHED_FROM_BAD.values())
    figures.add("hostile input", "CLI: pushed from bad packages", pushed, held=pushed == 0)


# -- the daemon --------------------------------------------------------------------------------


def healthz(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    """GET /healthz; return (status, body)."""
    url = f"http://127.0.0.1:{daemon.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def answers(daemon: Daemon) -> bool:
    """Return whether /healthz answers at all."""
    try:
        healthz(daemon)
    except OSError:
        return False
    return True


def refusals(daemon: Daemon, name: str) -> list[dict[str, Any]]:
    """Return the log lines reporting alpha/sandbox refused the package published as `name`."""
    return [
        line
        for line in daemon.log_lines()
        if line.get("event") == "connector result"
        and line.get("connector") == "alpha/sandbox"
        and line.get("result") == "invalid"
        and f"/{name}" in str(line.get("detail"))
    ]


GOOD_EVERY = 8  # a good package for beta after every this many bad ones for alpha


def publish_alone(
    site: TwoSystemSite, case: BadPackage, staging: Path, scratch: Path, gone: Path
) -> str:
    """Publish a bad package into alpha's folder as its only entry, renamed into place as
    publishers do (the previous one is moved out to `gone`); return the name it has there.
    """
    path = case.place(staging, scratch)
    for old in site.drops["alpha"].iterdir():
        old.rename(gone / old.name)
    path.rename(site.drops["alpha"] / path.name)
    return path.name


def publish_good_and_wait(site: TwoSystemSite) -> int:
    """Publish the next good package into beta's folder; return its version once served."""
    version = next(_versions)
    site.publish_good(version)
    wait_until(lambda: site.served_version("beta") == version, 60, f"beta to serve v{version}")
    return version


def test_daemon_refuses_every_bad_package_and_keeps_serving_beta(
    emu: Emulator, tmp_path: Path, figures: Any
) -> None:
    """`sfsync run`: the whole package corpus published into alpha, one after another, with good
    packages into beta between them. Each refusal is one log line naming the entry, alpha's org
    sees no request, beta serves every good package, the daemon stays up, and /healthz says
    503 naming alpha/sandbox.
    """
    site = two_system_site(tmp_path / "site", emu)
    site.authorize("alpha")
    site.authorize("beta")
    staging, scratch, gone = (tmp_path / name for name in ("staging", "scratch", "gone"))
    for folder in (staging, scratch, gone):
        folder.mkdir()
    daemon = start_daemon(site)
    published: dict[str, str] = {}  # case -> the name it was published under
    logged: dict[str, int] = {}  # case -> refusal lines naming it
    served: list[int] = []  # good versions beta was seen serving
    survived = False
    try:
        wait_until(lambda: answers(daemon), 60, "/healthz to answer")
        for index, case in enumerate(PACKAGES):
            name = publish_alone(site, case, staging, scratch, gone)
            published[case.name] = name

            def refusal_lines(name: str = name) -> list[dict[str, Any]]:
                return refusals(daemon, name)

            wait_until(refusal_lines, 60, f"{case.name} refused")
            if index % GOOD_EVERY == GOOD_EVERY - 1 or index == len(PACKAGES) - 1:
                served.append(publish_good_and_wait(site))
            assert daemon.process.poll() is None, f"the daemon died at {case.name}"
        time.sleep(1)  # room for a duplicate refusal line to show up
        for case in PACKAGES:
            found = refusals(daemon, published[case.name])
            logged[case.name] = len(found)
            assert len(found) == 1, (case.name, found)
            assert_names_package(case, str(found[0]["detail"]))
        broken = [
            line for line in daemon.log_lines() if line.get("unparsed") or "exception" in line
        ]
        assert broken == [], broken[:3]
        alpha_calls = [entry for entry in site.orgs["alpha"].request_log if entry.api != "oauth"]
        assert alpha_calls == [], alpha_calls
        assert site.orgs["alpha"].static_resources.get(RESOURCES["alpha"]) is None
        assert site.pushes("beta") == len(site.good_versions)
        status, body = healthz(daemon)
        assert status == 503, body
        assert any(problem.startswith("alpha/sandbox: invalid") for problem in body["problems"])
        assert body["connectors"]["beta/sandbox"]["last_result"] == "pushed"
        survived = daemon.process.poll() is None
        assert daemon.stop() == 0
    finally:
        daemon.kill()
        refused = sum(count == 1 for count in logged.values())
        pushed_from_bad = site.pushes("alpha")
        area = "hostile input"
        figures.add(
            area,
            "daemon: bad packages refused, one log line each",
            f"{refused}/{len(PACKAGES)}",
            held=refused == len(PACKAGES),
        )
        figures.add(
            area, "daemon: pushed from bad packages", pushed_from_bad, held=pushed_from_bad == 0
        )
        figures.add(
            area,
            "daemon: good packages served by the other system",
            f"{len(served)}/{len(site.good_versions)}",
            held=bool(served) and len(served) == len(site.good_versions),
        )
        figures.add(area, "daemon survived", "yes" if survived else "no", held=survived)
