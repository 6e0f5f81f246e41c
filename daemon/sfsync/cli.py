"""The `sfsync` command line: options in, one line per error out, and the only sys.exit."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import structlog

from sfsync import __version__
from sfsync.actions.build import (
    build_for_connector,
    locate_package,
    package_limits,
    write_atomically,
)
from sfsync.clock import epoch_seconds
from sfsync.config import LoadedConfig, find_config_path, load_config, select_connector
from sfsync.config.durations import format_duration
from sfsync.config.schema import DirSource
from sfsync.errors import ExitStatus, SfsyncError
from sfsync.log import configure_logging

log = structlog.get_logger("sfsync.cli")


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
    """Validate the config and print the resolved connectors."""
    loaded = state.loaded
    daemon = loaded.config.daemon
    click.echo(f"{loaded.path}: valid, {len(loaded.connectors)} connector(s)")
    click.echo(f"state_dir {daemon.state_dir}  metrics {daemon.metrics_listen or 'off'}")
    rows = [("CONNECTOR", "RESOURCE", "API", "LOGIN URL", "SOURCE", "GATE")]
    for connector in loaded.connectors:
        source = connector.source
        where = f"dir {source.path}" if isinstance(source, DirSource) else f"http {source.url}"
        gate = "-"
        if connector.requires is not None and connector.soak is not None:
            gate = f"live on {connector.requires} for {format_duration(connector.soak)}"
        rows.append(
            (connector.name, connector.resource, connector.api, connector.login_url, where, gate)
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


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
    source_path = package_path or locate_package(connector, epoch_seconds())
    built = build_for_connector(connector, source_path, package_limits(loaded.config))
    write_atomically(output, built.data)
    click.echo(
        f"{output}: {built.size} bytes, {len(built.entries)} entries, sha256 {built.sha256} "
        f"(connector {connector.name}, resource {connector.resource}, from {source_path})"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the command line and exit with the documented status (SPEC section 5)."""
    configure_logging("console", stream=sys.stderr, level=logging.WARNING)
    try:
        result = cli.main(args=argv, prog_name="sfsync", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("sfsync: aborted", err=True)
        sys.exit(ExitStatus.FAILURE)
    except click.ClickException as error:
        error.show()
        sys.exit(ExitStatus.USAGE if error.exit_code == 2 else error.exit_code)  # noqa: PLR2004
    except SfsyncError as error:
        for line in str(error).splitlines() or [type(error).__name__]:
            click.echo(f"sfsync: error: {line}", err=True)
        sys.exit(error.exit_status)
    except Exception as error:  # the one place that turns anything into an exit code
        log.exception("unexpected error", error_type=type(error).__name__)
        click.echo(f"sfsync: internal error: {type(error).__name__}: {error}", err=True)
        sys.exit(ExitStatus.FAILURE)
    sys.exit(int(result) if isinstance(result, int) else ExitStatus.OK)
