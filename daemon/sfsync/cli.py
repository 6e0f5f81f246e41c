"""The `sfsync` command line: options in, one line per error out, and the only sys.exit."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import NoReturn

import click

from sfsync import __version__
from sfsync.actions.authorize import AuthorizeOptions, Interaction, authorize
from sfsync.actions.build import build_for_connector
from sfsync.actions.connectors import select_by_environment, select_for_authorize
from sfsync.actions.history import history_rows
from sfsync.actions.revoke import revoke
from sfsync.actions.status import status_report, status_rows, unknown_authorization_rows
from sfsync.actions.sync import resume, rollback, verify
from sfsync.auth_wiring import auth_deps
from sfsync.clock import epoch_seconds, utc_now
from sfsync.config import (
    LoadedConfig,
    find_config_path,
    load_config,
    select_connector,
    short_client_id,
)
from sfsync.config.durations import format_duration, parse_duration
from sfsync.config.schema import DirSource
from sfsync.errors import (
    ExitStatus,
    NothingPublishedError,
    PathError,
    SfsyncError,
    SourceError,
    TokenStoreError,
    UsageError,
    describe_os_error,
)
from sfsync.files import write_atomically
from sfsync.hardening import make_undumpable
from sfsync.locks import keyring_lock_path
from sfsync.log import configure_logging
from sfsync.package.limits import package_limits
from sfsync.redact import redact_text
from sfsync.sources.open import open_sources
from sfsync.sources.source import Package
from sfsync.state.packages import PackageArchive
from sfsync.sync.cycle import RESULT_EVENT, CycleReport
from sfsync.sync.result import worst_exit_status
from sfsync.sync.runtime import open_runtime
from sfsync.tokens.backends import open_backend, read_passphrase
from sfsync.tokens.rekey import rekey_cryptfile, reseal_cryptfile


@dataclass
class CliContext:
    """What every command shares: the --config option and, once read, the config."""

    config_option: Path | None
    _loaded: LoadedConfig | None = field(default=None, repr=False)

    @property
    def loaded(self) -> LoadedConfig:
        """Return the config, read and validated on first use."""
        if self._loaded is None:
            self._loaded = load_config(find_config_path(self.config_option))
        return self._loaded


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_option",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Config file (default: $SFSYNC_CONFIG, else /etc/sfsync/sfsync.toml).",
)
@click.version_option(__version__, prog_name="sfsync")
@click.pass_context
def cli(context: click.Context, config_option: Path | None) -> None:
    """Keep self-hosted in-app guidance packages live in Salesforce orgs."""
    context.obj = CliContext(config_option)


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@click.pass_obj
def config_check(state: CliContext) -> None:
    """Validate the config (every problem in one run) and print the resolved connectors."""
    from sfsync.terminal import print_table  # noqa: PLC0415 - rich, not for `run`

    loaded = load_config(find_config_path(state.config_option), refuse_placeholders=True)
    daemon = loaded.config.daemon
    for name, system in loaded.config.systems.items():
        source = system.source
        if isinstance(source, DirSource) and not source.path.is_dir():
            click.echo(
                f"sfsync: warning: {source.path}: the drop folder of system {name} does not "
                "exist yet; create it (writable by the publisher, readable by sfsync) before "
                "the first publish",
                err=True,
            )
    click.echo(f"{loaded.path}: valid, {len(loaded.connectors)} connector(s)")
    click.echo(f"state_dir {daemon.state_dir}  metrics {daemon.metrics_listen or 'off'}")
    rows = [("CONNECTOR", "RESOURCE", "API", "LOGIN URL", "APP", "SOURCE", "GATE")]
    for connector in loaded.connectors:
        source = connector.source
        where = f"dir {source.path}" if isinstance(source, DirSource) else f"http {source.url}"
        gate = "-"
        if connector.requires is not None and connector.soak is not None:
            gate = f"live on {connector.requires} for {format_duration(connector.soak)}"
        rows.append(
            (
                connector.name,
                connector.resource,
                connector.api,
                connector.login_url,
                short_client_id(connector.client_id),
                where,
                gate,
            )
        )
    print_table(rows)


@cli.command()
@click.option("--connector", "connector_name", metavar="SYS/ENV", help="Which connector's build.")
@click.option(
    "--package",
    "package_path",
    type=click.Path(path_type=Path, exists=True),
    help="Build this package (ZIP or folder) instead of the newest one the source offers.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    required=True,
    help="Where to write the ZIP.",
)
@click.pass_obj
def build(
    state: CliContext, connector_name: str | None, package_path: Path | None, output: Path
) -> None:
    """Build the ZIP exactly as it would be pushed, without pushing."""
    loaded = state.loaded
    connector = select_connector(loaded.connectors, connector_name)
    try:
        package = (
            Package(package_path)
            if package_path is not None
            else open_sources(loaded.config)[connector.system].look(epoch_seconds()).ready()
        )
    except SourceError as error:
        if not isinstance(error, NothingPublishedError) and not isinstance(
            connector.source, DirSource
        ):
            raise  # a URL that could not be fetched: a failure, not a usage error
        raise UsageError(
            f"nothing to build for {connector.name}: {error}; publish a package there, or "
            "build a given one with --package FILE"
        ) from None
    source_path = package.path
    built = build_for_connector(connector, package, package_limits(loaded.config))
    try:
        write_atomically(output, built.pieces)
    except OSError as error:
        raise PathError(describe_os_error(output, error, "write the ZIP")) from None
    click.echo(
        f"{output}: {built.size} bytes, {len(built.entries)} entries, sha256 {built.sha256} "
        f"(connector {connector.name}, resource {connector.resource}, from {source_path})"
    )


def _seconds(_context: click.Context, _parameter: click.Parameter, value: str) -> float:
    """click callback: a duration ("5m", "90s") or plain seconds, as seconds."""
    try:
        return (
            float(value)
            if value.replace(".", "", 1).isdigit()
            else (parse_duration(value).total_seconds())
        )
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def read_secret_stdin() -> str:
    """Return the consumer secret piped on standard input (its first line); raise UsageError
    when there is none. A secret never comes through argv, where `ps` shows it.
    """
    secret = sys.stdin.readline().strip()
    if not secret:
        raise UsageError("--client-secret-stdin: standard input held no consumer secret")
    return secret


def ask_secret_on_terminal() -> str | None:
    """Ask for the consumer secret without echo when a person is at a terminal; else None."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None
    click.echo("The org wants the External Client App's consumer secret.", err=True)
    secret = click.prompt(
        "Consumer secret", hide_input=True, default="", show_default=False, err=True
    )
    return str(secret).strip() or None


@cli.command("authorize")
@click.option("--env", "environment", required=True, help="The environment (org) to authorize.")
@click.option(
    "--system",
    "systems",
    multiple=True,
    help="The system; may be left out when only one is configured. Repeat it to authorize "
    "several systems of one org with one approval.",
)
@click.option(
    "--all-systems", is_flag=True, help="Every system of --env, with one approval (one org)."
)
@click.option(
    "--flow",
    type=click.Choice(["web", "device", "jwt"]),
    default="web",
    show_default=True,
    help="web: browser + PKCE; device: a code to enter on another device (must be enabled "
    "on the app); jwt: unattended, with --username and --key.",
)
@click.option("--no-browser", is_flag=True, help="Only print the URL (e.g. on a box over SSH).")
@click.option("--username", help="jwt: the Salesforce username to act as.")
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="jwt: the PEM private key whose certificate is on the app.",
)
@click.option(
    "--client-secret-stdin",
    is_flag=True,
    help="Read the app's consumer secret from standard input (apps that require it); it is "
    "kept in the keyring record only.",
)
@click.option("--force", is_flag=True, help="Replace an authorization of another org or user.")
@click.option(
    "--timeout",
    default="5m",
    show_default=True,
    callback=_seconds,
    help="How long to wait for the browser or the device approval.",
)
@click.pass_obj
def authorize_command(
    state: CliContext,
    *,
    environment: str,
    systems: tuple[str, ...],
    all_systems: bool,
    flow: str,
    no_browser: bool,
    username: str | None,
    key_path: Path | None,
    client_secret_stdin: bool,
    force: bool,
    timeout: float,
) -> None:
    """Authorize one connector (or several systems of one org) and keep the token in the
    keyring.
    """
    loaded = state.loaded
    connectors = select_for_authorize(
        loaded.connectors, environment, systems, all_systems=all_systems
    )
    options = AuthorizeOptions(
        flow="web" if flow == "web" else "device" if flow == "device" else "jwt",
        open_browser=not no_browser,
        username=username,
        key_path=key_path,
        timeout=timeout,
        force=force,
        client_secret=read_secret_stdin() if client_secret_stdin else None,
    )
    deps = auth_deps(loaded)
    done = authorize(
        connectors, options, deps, Interaction(echo=click.echo, ask_secret=ask_secret_on_terminal)
    )
    for warning in done.warnings:
        click.echo(f"sfsync: warning: {warning}", err=True)
    names = ", ".join(done.records)
    click.echo(
        f"{names}: authorized as {done.username} in org {done.org_id}, {done.instance_url}; "
        f"token kept in {deps.store.describe()}"
    )


@cli.group("keyring")
def keyring_group() -> None:
    """The keyring that holds the tokens."""


@keyring_group.command("rekey")
@click.option(
    "--new-passphrase-stdin",
    is_flag=True,
    required=True,
    help="Read the new passphrase from standard input (never from argv).",
)
@click.pass_obj
def keyring_rekey(state: CliContext, new_passphrase_stdin: bool) -> None:
    """Re-encrypt the cryptfile keyring under a new passphrase, keeping every authorization;
    stop the daemon first, and give it the new passphrase (its credential) before starting it.
    """
    del new_passphrase_stdin  # required: the only way the new passphrase comes in
    new = sys.stdin.readline().rstrip("\n")
    path, old, lock_path = _managed_cryptfile(state, "re-keyed")
    count = rekey_cryptfile(path, old, new, lock_path)
    click.echo(
        f"{path}: {count} entr{'y' if count == 1 else 'ies'} re-encrypted under the new "
        "passphrase; update the daemon's credential (LoadCredential=keyring-passphrase:...) "
        "before it starts again"
    )


@keyring_group.command("reseal")
@click.pass_obj
def keyring_reseal(state: CliContext) -> None:
    """Re-encrypt every entry of the cryptfile keyring under one key, keeping the passphrase:
    entries written with a key each (by older versions) cost an Argon2 derivation each at
    every start until then.
    """
    path, passphrase, lock_path = _managed_cryptfile(state, "resealed")
    count = reseal_cryptfile(path, passphrase, lock_path)
    click.echo(f"{path}: {count} entr{'y' if count == 1 else 'ies'} re-encrypted under one key")


def _managed_cryptfile(state: CliContext, done: str) -> tuple[Path, str, Path]:
    """Return the configured cryptfile, its passphrase and the keyring lock; raise UsageError
    if the keyring in use is not a cryptfile sfsync unlocks.
    """
    config = state.loaded.config
    lock_path = keyring_lock_path(config.daemon.state_dir)
    backend = open_backend(config.keyring, os.environ, lock_path)
    path = getattr(backend, "file_path", None)
    passphrase = read_passphrase(os.environ)
    if path is None or passphrase is None:
        raise UsageError(
            f"the keyring in use ({type(backend).__name__}) has no passphrase sfsync manages; "
            f'only the cryptfile keyring ([keyring] backend = "cryptfile") can be {done}'
        )
    return Path(path), passphrase, lock_path


@cli.command("revoke")
@click.option("--env", "environment", required=True, help="The environment (org).")
@click.option("--system", help="The system; may be left out when only one is configured.")
@click.pass_obj
def revoke_command(state: CliContext, environment: str, system: str | None) -> None:
    """Revoke a connector's token at Salesforce and delete its keyring entry."""
    loaded = state.loaded
    connector = select_by_environment(loaded.connectors, environment, system)
    outcome = revoke(connector, auth_deps(loaded))
    if not outcome.had_entry:
        click.echo(f"{connector.name}: not authorized; nothing to revoke")
        return
    if outcome.warning:
        click.echo(f"sfsync: warning: {outcome.warning}", err=True)
    where = "revoked at Salesforce and" if outcome.revoked_remotely else ""
    click.echo(f"{connector.name}: {where} keyring entry deleted".replace(":  ", ": "))


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_obj
def status_command(state: CliContext, as_json: bool) -> int:
    """Show each connector: authorization, what is live, the last push, pause, gate, doubt and
    last error. Exits 3 if any needs authorization.
    """
    from sfsync.terminal import print_status  # noqa: PLC0415 - rich, not for `run`

    loaded = state.loaded
    keyring_error = None
    try:
        deps = auth_deps(loaded)
    except TokenStoreError as error:
        if not as_json:
            raise
        # Scripts get their JSON anyway: the state store's columns, authorization unknown.
        keyring_error = str(error)
        state_dir = loaded.config.daemon.state_dir
        rows = unknown_authorization_rows(loaded.connectors, state_dir, utc_now(), keyring_error)
    else:
        rows = status_rows(loaded.connectors, deps)
    if as_json:
        click.echo(json.dumps(status_report(rows, keyring_error), indent=2))
    else:
        print_status(rows)
    # Authorization unknown (the keyring could not be read) counts as needing it: exit 3.
    needs = any(row.needs_authorization is not False for row in rows)
    return int(ExitStatus.NEEDS_AUTHORIZATION) if needs else int(ExitStatus.OK)


def _selected(state: CliContext, names: tuple[str, ...]) -> set[str] | None:
    loaded = state.loaded
    for name in names:
        select_connector(loaded.connectors, name)  # raises UsageError listing the valid names
    return set(names) or None


_connectors_option = click.option(
    "--connector",
    "connector_names",
    multiple=True,
    metavar="SYS/ENV",
    help="Only these connectors (repeatable); default: all.",
)


@cli.command("sync")
@_connectors_option
@click.option(
    "--dry-run", is_flag=True, help="Build and print the plan; call no API, change nothing."
)
@click.option("--force", is_flag=True, help="Push even builds that are already live.")
@click.pass_obj
def sync_command(
    state: CliContext, connector_names: tuple[str, ...], dry_run: bool, force: bool
) -> int:
    """One cycle: check sources, build, push what changed, exit."""
    from sfsync.terminal import print_results, sync_progress  # noqa: PLC0415 - rich, not for `run`

    only = _selected(state, connector_names)
    total = len(only) if only else len(state.loaded.connectors)
    interrupted = threading.Event()
    with (
        _interrupt_sets(interrupted),
        open_runtime(state.loaded, interrupted=interrupted) as runtime,
    ):
        with sync_progress(0 if dry_run else total) as advance:
            runtime.deps.on_result = advance
            report = runtime.cycle(only=only, dry_run=dry_run, force=force)
        if interrupted.is_set():
            # Still inside the runtime: pushes in flight keep their store until the exit.
            print_results(report.results)
            _exit_interrupted()
    print_results(report.results)
    return int(report.exit_status())


@contextmanager
def _interrupt_sets(interrupted: threading.Event) -> Iterator[None]:
    """While inside, a first SIGINT (Ctrl-C) sets `interrupted` instead of raising, so that the
    cycle can report what it finished; a second one stops at once.
    """

    def on_sigint(_number: int, _frame: FrameType | None) -> None:
        if interrupted.is_set():
            _exit_interrupted()
        interrupted.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _exit_interrupted() -> NoReturn:
    """Say so and exit 130 without waiting for pushes still in flight: their threads would hold
    the interpreter open, and the state store marks them abandoned at the next start.
    """
    click.echo("sfsync: interrupted", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(ExitStatus.INTERRUPTED))


@cli.command("rollback")
@click.option("--connector", "connector_name", required=True, metavar="SYS/ENV")
@click.option(
    "--to",
    "sha_prefix",
    metavar="SHA256-PREFIX",
    help="The kept build to push (default: the one live before the current one).",
)
@click.pass_obj
def rollback_command(state: CliContext, connector_name: str, sha_prefix: str | None) -> int:
    """Re-push an earlier build and pause automatic pushes for that connector."""
    from sfsync.terminal import history_table, print_results  # noqa: PLC0415 - rich, not for `run`

    connector = select_connector(state.loaded.connectors, connector_name)
    if sha_prefix is not None:
        # Checked before the keyring is opened: a mistyped prefix costs nothing, and the
        # error lists what there is to pick from.
        state_dir = state.loaded.config.daemon.state_dir
        try:
            PackageArchive(state_dir).resolve_prefix(connector.name, sha_prefix)
        except UsageError as error:
            rows = history_rows(state_dir, connector.name)
            error.listing = (
                tuple(history_table(rows))
                if rows
                else (f"{connector.name} has no kept builds yet",)
            )
            raise
    with open_runtime(state.loaded) as runtime:
        result = rollback(runtime, connector, sha_prefix)
    print_results([result])
    click.echo(f"{connector.name} is paused; `sfsync resume --connector {connector.name}` lifts it")
    return int(CycleReport((result,)).exit_status())


@cli.command("history")
@click.option("--connector", "connector_name", required=True, metavar="SYS/ENV")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_obj
def history_command(state: CliContext, connector_name: str, as_json: bool) -> None:
    """List the kept builds of a connector (what `rollback --to` picks from), newest first:
    hash, source file, when built, pushed and live, and the last result.
    """
    from sfsync.terminal import history_table  # noqa: PLC0415 - rich, not for `run`

    connector = select_connector(state.loaded.connectors, connector_name)
    rows = history_rows(state.loaded.config.daemon.state_dir, connector.name)
    if as_json:
        click.echo(json.dumps({"connector": connector.name, "builds": rows}, indent=2))
    elif not rows:
        click.echo(f"{connector.name}: no kept builds yet")
    else:
        for line in history_table(rows):
            click.echo(line)


@cli.command("resume")
@click.option("--connector", "connector_name", required=True, metavar="SYS/ENV")
@click.pass_obj
def resume_command(state: CliContext, connector_name: str) -> None:
    """Lift a pause: automatic pushes to the connector start again."""
    connector = select_connector(state.loaded.connectors, connector_name)
    with open_runtime(state.loaded) as runtime:
        was_paused = resume(runtime, connector)
    click.echo(f"{connector.name}: " + ("resumed" if was_paused else "was not paused"))


@cli.command("verify")
@_connectors_option
@click.pass_obj
def verify_command(state: CliContext, connector_names: tuple[str, ...]) -> int:
    """Download each live resource and compare it with what was pushed."""
    from sfsync.terminal import print_results  # noqa: PLC0415 - rich, not for `run`

    only = _selected(state, connector_names)
    connectors = [c for c in state.loaded.connectors if only is None or c.name in only]
    with open_runtime(state.loaded) as runtime:
        results = [verify(runtime, connector) for connector in connectors]
    print_results(results)
    return int(worst_exit_status([result.outcome for result in results]))


@cli.command("run")
@click.pass_obj
def run_command(state: CliContext) -> int:
    """Run the daemon in the foreground (systemd runs this): watch, build, push, report."""
    from sfsync.daemon.main import run_daemon  # noqa: PLC0415 - the scheduler loads only here

    return run_daemon(find_config_path(state.config_option))


@cli.command("demo")
def demo_command() -> int:
    """The whole loop against the built-in emulator: no org, no setup, nothing left running."""
    from sfsync.demo import run_demo  # noqa: PLC0415 - loads the emulator, so only here

    return run_demo(click.echo)


@cli.command("emulator")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve the org on this loopback port (default: a free one).",
)
def emulator_command(port: int | None) -> None:
    """Run the local Salesforce-compatible emulator (HTTPS) until Ctrl-C."""
    # Imported here: only `demo` and `emulator` may load the emulator (SPEC section 11).
    from sfsync_emulator.foreground import run  # noqa: PLC0415

    run(port, click.echo)


def _error_lines(message: str) -> None:
    """Print the message as `sfsync: error:` lines: one, or one per problem of a config."""
    for line in message.splitlines() or ["(no message)"]:
        click.echo(redact_text(f"sfsync: error: {line}"), err=True)


def _keep_traceback(error: BaseException) -> Path | None:
    """Write the traceback of an unexpected error to a private temp file; return its path, or
    None when even that fails. The user sees one line; the file is there for a bug report.
    """
    try:
        descriptor, name = tempfile.mkstemp(prefix="sfsync-traceback-", suffix=".txt")
        with os.fdopen(descriptor, "w") as stream:
            # Redacted like every other sink: no secret in a temp file either (SPEC section 6).
            stream.write(redact_text("".join(traceback.format_exception(error))))
    except OSError:
        return None
    return Path(name)


def main(argv: list[str] | None = None) -> None:
    """Run the command line and exit with the documented status (SPEC section 5): every error
    is one line on stderr, never a traceback.
    """
    make_undumpable()  # before any token or passphrase is in memory
    # Each connector's result is a row of the command's own table; its log line (the daemon's
    # report) would say it twice on stderr.
    configure_logging(
        "console",
        stream=sys.stderr,
        level=logging.WARNING,
        quiet_events=frozenset({RESULT_EVENT}),
    )
    try:
        result = cli.main(args=argv, prog_name="sfsync", standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C (or end of input at a prompt)
        click.echo("sfsync: interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)
    except click.UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
        _error_lines(error.format_message() + hint)
        sys.exit(ExitStatus.USAGE)
    except click.ClickException as error:
        _error_lines(error.format_message())
        sys.exit(ExitStatus.USAGE if error.exit_code == 2 else error.exit_code)  # noqa: PLR2004
    except SfsyncError as error:
        _error_lines(str(error) or type(error).__name__)
        for line in error.listing:
            click.echo(line, err=True)
        sys.exit(error.exit_status)
    except OSError as error:  # a file the command touched; the known ones are PathErrors
        where = error.filename if error.filename is not None else "a file"
        _error_lines(describe_os_error(where, error, "use it"))
        sys.exit(ExitStatus.USAGE if error.filename is not None else ExitStatus.FAILURE)
    # The one place that turns anything into an exit code; the traceback goes to a file.
    except Exception as error:  # noqa: BLE001 - reported as one line, traceback kept in a file
        kept = _keep_traceback(error)
        where = f" (traceback in {kept}; please report it)" if kept is not None else ""
        click.echo(
            redact_text(f"sfsync: internal error: {type(error).__name__}: {error}{where}"),
            err=True,
        )
        sys.exit(ExitStatus.FAILURE)
    sys.exit(int(result) if isinstance(result, int) else ExitStatus.OK)
