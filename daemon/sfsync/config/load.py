"""Finding, reading and validating sfsync.toml."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from sfsync.config.connectors import Connector, resolve_connectors
from sfsync.config.errors import problem_lines, validation_lines
from sfsync.config.rules import client_id_problems, duplicate_resource_problems, gate_problems
from sfsync.config.schema import Config, DirSource
from sfsync.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/sfsync/sfsync.toml")
CONFIG_ENVIRONMENT_VARIABLE = "SFSYNC_CONFIG"


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config, the file it came from, and its resolved connectors."""

    path: Path
    config: Config
    connectors: tuple[Connector, ...]


def find_config_path(explicit: Path | None, environ: Mapping[str, str] = os.environ) -> Path:
    """Given the --config option (or None), return the config file to read.

    The option wins, then $SFSYNC_CONFIG, then /etc/sfsync/sfsync.toml.
    """
    if explicit is not None:
        return explicit
    from_environment = environ.get(CONFIG_ENVIRONMENT_VARIABLE)
    if from_environment:
        return Path(from_environment)
    return DEFAULT_CONFIG_PATH


def load_config(path: Path) -> LoadedConfig:
    """Given a config file path, return it validated with its connectors resolved.

    Raise ConfigError, listing every problem one per line, if the file cannot be read or is
    invalid.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found "
            f"(give --config PATH or set ${CONFIG_ENVIRONMENT_VARIABLE})"
        ) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file: {error.strerror}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> LoadedConfig:
    """Given the text of a config file and its path, return it validated and resolved.

    Relative paths in it are taken relative to the file's folder. Raise ConfigError if it is
    not valid TOML or not a valid config.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except RecursionError:
        # tomllib parses arrays and inline tables recursively: a few hundred levels of nesting
        # exhaust the stack instead of raising TOMLDecodeError.
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None
    try:
        config = Config.model_validate(document)
    except ValidationError as error:
        raise ConfigError("\n".join(validation_lines(path, error))) from None
    problems = (
        gate_problems(config) + duplicate_resource_problems(config) + client_id_problems(config)
    )
    if problems:
        raise ConfigError("\n".join(problem_lines(path, problems)))
    config = _anchor_paths(config, path.parent)
    return LoadedConfig(path=path, config=config, connectors=tuple(resolve_connectors(config)))


def _anchor_paths(config: Config, base: Path) -> Config:
    """Return the config with every relative path made relative to `base` (the file's folder)."""
    base = base.absolute()
    daemon = config.daemon.model_copy(update={"state_dir": _anchor(base, config.daemon.state_dir)})
    oauth = config.oauth
    if oauth.ca_bundle is not None:
        oauth = oauth.model_copy(update={"ca_bundle": _anchor(base, oauth.ca_bundle)})
    keyring = config.keyring
    if keyring.cryptfile_path is not None:
        keyring = keyring.model_copy(
            update={"cryptfile_path": _anchor(base, keyring.cryptfile_path)}
        )
    systems = {}
    for name, system in config.systems.items():
        source = system.source
        if isinstance(source, DirSource):
            source = source.model_copy(update={"path": _anchor(base, source.path)})
        systems[name] = system.model_copy(update={"source": source})
    return config.model_copy(
        update={"daemon": daemon, "oauth": oauth, "keyring": keyring, "systems": systems}
    )


def _anchor(base: Path, path: Path) -> Path:
    # normpath, not resolve(): "../x" should read as written, without following symlinks.
    return Path(os.path.normpath(base / path))
