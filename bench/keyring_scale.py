"""Row KS: the shipped unit's keyring (the encrypted file, keyrings.cryptfile, unlocked from the
systemd credential) at 1,000 and 10,000 connectors: `sfsync run` from start to READY=1, an
unchanged `sfsync sync` and `sfsync status --json`, each as a subprocess, wall time.

The connectors are environments of one system spread over a few emulated orgs (an org per
connector would need 10,000 listening ports); each has its own refresh token in its own
keyring entry (SPEC section 6), written under the file's one salt as sfsync writes them. What
each org holds is recorded in the state store beforehand, from the very builds the cycle makes
(the same package, the same build functions), so the sync finds every connector unchanged, as
after a publish that reached every org. Requests take 100 ms, as in row 3.
"""

from __future__ import annotations

import resource
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Measurement, Mode, cpu_seconds
from bench.keyring_cost import PASSPHRASE
from bench.packages import package_bytes, publish
from bench.workspace import CLIENT_ID, CODE, RESOURCE, Workspace, start_emulator
from sfsync import __version__
from sfsync.actions.status import CHECKS_AT_ONCE, LIVE_CHECKS_PER_RUN
from sfsync.config.load import load_config
from sfsync.config.schema import KeyringSettings
from sfsync.locks import keyring_lock_path
from sfsync.package.build import BuildOptions, build_prepared, prepare_package
from sfsync.package.build_key import build_key
from sfsync.package.limits import package_limits
from sfsync.package.read import read_package
from sfsync.package.version import source_version
from sfsync.ports import unused_loopback_port
from sfsync.sources.open import open_sources
from sfsync.state.records import BuildKey
from sfsync.state.store import StateStore
from sfsync.tokens.backends import open_backend, open_cryptfile
from sfsync.tokens.caching import cached
from sfsync.tokens.keyring_store import KeyringTokenStore
from sfsync.tokens.record import SERVICE, StoredAuthorization
from sfsync_emulator import Emulator, OrgHandle
from tests.fixtures.site import SFSYNC

READY_TARGET = 30.0  # seconds from start to READY=1
COMMAND_TARGET = 10.0  # seconds for an unchanged `sync` and for `status`
ORGS = 10
LATENCY = 0.1
PACKAGE_BYTES = 100_000
SYSTEM = "scale"
# How long a command may run before the row gives up on it (the bench stays under its time).
SYNC_PATIENCE = 600.0
STATUS_PATIENCE = 60.0


def measure(mode: Mode, keyring_env: Mapping[str, str]) -> list[Measurement]:
    """Time READY, an unchanged sync and status at each size on the cryptfile; return row KS."""
    sizes: tuple[int, ...] = mode.pick((1_000, 10_000), (20,))
    emu = start_emulator(LATENCY)
    rows: list[Measurement] = []
    try:
        orgs = [emu.add_org(name=f"{SYSTEM}-org{index}") for index in range(ORGS)]
        for size in sizes:
            site = make_site(mode.scratch / f"n{size}", emu, orgs, size, keyring_env)
            rows += _measure_site(site, size)
    finally:
        emu.stop()
    return rows


def _measure_site(site: Workspace, size: int) -> list[Measurement]:
    keyring_seconds, keyring_cpu = _keyring_pass_seconds(site)
    daemon = site.start_daemon()
    try:
        ready = daemon.wait_ready(600)
        ready_cpu = cpu_seconds(daemon.process.pid)
    finally:
        daemon.close()
    unchanged = _timed(site, ("sync",), SYNC_PATIENCE)
    results = [line.split()[1:2] for line in unchanged.output.splitlines()[1:]]
    if unchanged.seconds is None or results != [["unchanged"]] * size:
        raise RuntimeError(f"the sync at {size} connectors was not all unchanged: {results[:3]}")
    status = _timed(site, ("status", "--json"), STATUS_PATIENCE)
    prefix = f"cryptfile, {size:,} connectors:"
    return [
        Measurement(
            "KS",
            f"{prefix} open the keyring, read every entry",
            keyring_seconds,
            "s",
            "reference",
            None,
            note=f"CPU {keyring_cpu:.1f} s; in-process, through sfsync's token store: the "
            "keyring's share of each line below",
        ),
        _row(f"{prefix} start to READY", ready, READY_TARGET, note=f"CPU {ready_cpu:.1f} s"),
        _row(
            f"{prefix} unchanged `sfsync sync`",
            unchanged.seconds,
            COMMAND_TARGET,
            note=f"CPU {unchanged.cpu:.1f} s",
        ),
        _row(
            f"{prefix} `sfsync status --json`",
            status.seconds,
            COMMAND_TARGET,
            STATUS_PATIENCE,
            note=f"CPU {status.cpu:.1f} s; a live token refresh for each of the "
            f"{LIVE_CHECKS_PER_RUN} least recently proven connectors (every one up to "
            f"{LIVE_CHECKS_PER_RUN}), {CHECKS_AT_ONCE} at a time, none written to the keyring; "
            "the emulator's server closes every connection, so each refresh also pays a TLS "
            "handshake",
        ),
    ]


def _keyring_pass_seconds(site: Workspace) -> tuple[float, float]:
    """Return the wall and CPU seconds sfsync's token store takes to open the site's keyring
    and read every connector's authorization, as a command or the daemon's start does.
    """
    started = time.perf_counter()
    cpu_started = time.process_time()
    lock = keyring_lock_path(site.root / "state")
    store = cached(KeyringTokenStore(open_backend(site.keyring, site.env, lock), lock))
    records = store.get_many(site.connectors)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if None in records.values():
        raise RuntimeError("an authorization is missing from the site's keyring")
    return seconds, cpu


def _row(
    case: str, seconds: float | None, target: float, patience: float = 0.0, note: str = ""
) -> Measurement:
    if seconds is None:
        note = f"stopped after {patience:g} s; " + note
        return Measurement("KS", case, patience, "s", f"< {target:g} s", met=False, note=note)
    return Measurement("KS", case, seconds, "s", f"< {target:g} s", seconds < target, note=note)


@dataclass(frozen=True)
class Run:
    """One command: its wall seconds (None if it ran out of patience), CPU seconds, output."""

    seconds: float | None
    cpu: float
    output: str


def _timed(site: Workspace, args: tuple[str, ...], patience: float) -> Run:
    """Run `sfsync ARGS`, killed after `patience` seconds; raise RuntimeError if it failed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [str(SFSYNC), "--config", str(site.config), *args],
            env=site.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=patience,
        )
    except subprocess.TimeoutExpired:
        done = None
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done is None:
        return Run(None, cpu, "")
    # status exits 3 while a connector needs authorization; here every one is authorized.
    if done.returncode != 0:
        raise RuntimeError(f"sfsync {args[0]}: exit {done.returncode}: {done.stderr[-500:]}")
    return Run(seconds, cpu, done.stdout)


def make_site(
    root: Path,
    emu: Emulator,
    orgs: list[OrgHandle],
    size: int,
    keyring_env: Mapping[str, str],
) -> Workspace:
    """Write a config with `size` environments over `orgs`, their authorizations in a new
    cryptfile keyring and a published package every connector already holds; return the site.
    """
    root.mkdir(parents=True)
    drop = root / "drop"
    drop.mkdir()
    ca_copy = root / "emulator-ca.pem"
    ca_copy.write_bytes(emu.ca_path.read_bytes())
    keyring = KeyringSettings(backend="cryptfile", cryptfile_path=root / "keyring.cfg")
    assigned = {f"{SYSTEM}/env{index:05}": orgs[index % len(orgs)] for index in range(size)}
    port = unused_loopback_port()
    lines = [
        "[daemon]",
        f'state_dir = "{root / "state"}"',
        f'metrics_listen = "127.0.0.1:{port}"',
        "[oauth]",
        f'client_id = "{CLIENT_ID}"',
        f'ca_bundle = "{ca_copy}"',
        "[keyring]",
        'backend = "cryptfile"',
        f'cryptfile_path = "{keyring.cryptfile_path}"',
        f"[systems.{SYSTEM}]",
        f'resource = "{RESOURCE}"',
        f'source = {{ type = "dir", path = "{drop}", settle = "0s" }}',
    ]
    for connector, org in assigned.items():
        lines += [
            f"[systems.{SYSTEM}.environments.{connector.split('/')[1]}]",
            f'login_url = "{org.instance_url}"',
        ]
    config = root / "sfsync.toml"
    config.write_text("\n".join(lines) + "\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(CODE),  # this checkout's code, as `make_workspace` sets it
        **keyring_env,
        "SFSYNC_KEYRING_PASSPHRASE": PASSPHRASE,
    }
    _authorize(keyring, assigned)
    publish(drop, package_bytes(PACKAGE_BYTES, 1), 1)
    _record_live(config, assigned)
    return Workspace(root, emu, SYSTEM, assigned, config, drop, env, keyring, port)


def _authorize(keyring: KeyringSettings, assigned: Mapping[str, OrgHandle]) -> None:
    """Store each connector's own authorization in the cryptfile, in one rewrite (as many
    `sfsync authorize` runs would leave them, one entry each, under the file's salt).
    """
    if keyring.cryptfile_path is None:
        raise ValueError("the site's keyring has no file")
    backend = open_cryptfile(keyring.cryptfile_path, PASSPHRASE)
    now = datetime.now(UTC).isoformat()
    values = {}
    for connector, org in assigned.items():
        _, refresh = org.issue_session(CLIENT_ID)
        user = org.default_user.user_id
        values[connector] = StoredAuthorization(
            flow="web",
            instance_url=org.instance_url,
            identity_url=f"{org.instance_url}/id/{org.org_id}/{user}",
            login_url=org.instance_url,
            client_id=CLIENT_ID,
            issued_at=now,
            refreshed_at=now,
            refresh_token=refresh,
            org_id=org.org_id,
            user_id=user,
        ).to_json()
    backend.set_passwords(SERVICE, values)  # type: ignore[attr-defined]


def _record_live(config: Path, assigned: Mapping[str, OrgHandle]) -> None:
    """Record in the state store that each connector's org (the one its token belongs to)
    holds the build the next cycle makes from the published package, and the key of that
    build's inputs, as the cycle that pushed it would have.
    """
    loaded = load_config(config)
    connectors = loaded.connectors
    found = open_sources(loaded.config)[SYSTEM].look(time.time()).ready()
    limits = package_limits(loaded.config)
    published = read_package(found.path, limits)
    version = found.version or source_version(found.path, published)
    prepared = prepare_package(published)
    store = StateStore.open(loaded.config.daemon.state_dir)
    now = datetime.now(UTC)
    keys: dict[str, BuildKey] = {}
    try:
        for connector in connectors:
            store.note_org(connector.name, assigned[connector.name].org_id)
            options = BuildOptions(
                connector=connector.name,
                overrides=connector.overrides,
                source_version=version,
                sfsync_version=__version__,
                settings_file=connector.settings_file,
                limits=limits,
            )
            built = build_prepared(prepared, options)
            keys[connector.name] = BuildKey(
                build_key(prepared.content_sha256, options), built.sha256, built.size
            )
            push = store.begin_push(
                connector.name,
                sha256=built.sha256,
                content_sha256=built.content_sha256,
                source_version=version,
                api="tooling",
                now=now,
            )
            store.finish_push(push, resource_id=None, now=now)
        store.record_build_keys(keys)
    finally:
        store.close()
