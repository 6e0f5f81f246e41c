"""Finding, reading and validating sfsync.toml."""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sfsync.config.connectors import Connector, resolve_connectors
from sfsync.config.errors import problem_lines, validation_lines
from sfsync.config.rules import (
    client_id_problems,
    duplicate_resource_problems,
    gate_problems,
    placeholder_client_id_problems,
)
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


def load_config(path: Path, *, refuse_placeholders: bool = False) -> LoadedConfig:
    """Given a config file path, return it validated with its connectors resolved; with
    `refuse_placeholders` (`config check`), a `client_id` left at the example's placeholder is
    a problem too.

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
    return parse_config(text, path, refuse_placeholders=refuse_placeholders)


def parse_config(text: str, path: Path, *, refuse_placeholders: bool = False) -> LoadedConfig:
    """Given the text of a config file and its path, return it validated and resolved.

    Relative paths in it are taken relative to the file's folder. Raise ConfigError listing
    every problem (shape and cross-key rules alike) if it is not valid TOML or not a valid
    config.
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
        config: Config | None = Config.model_validate(document)
        lines: list[str] = []
    except ValidationError as error:
        lines = validation_lines(path, error)
        # The rules run too, on what is left once the broken keys are taken out, so that one
        # run reports every problem.
        config = _validate_without_broken_keys(document, error)
    if config is not None:
        problems = (
            gate_problems(config) + duplicate_resource_problems(config) + client_id_problems(config)
        )
        if refuse_placeholders:
            problems += placeholder_client_id_problems(config)
        lines += problem_lines(path, problems)
    if lines or config is None:
        raise ConfigError("\n".join(lines))
    config = _anchor_paths(config, path.parent)
    return LoadedConfig(path=path, config=config, connectors=tuple(resolve_connectors(config)))


# Each round takes out the keys of one layer of problems (a bad value, then the table left
# without a required key, ...); a config needing more is reported by shape alone.
_PRUNING_ROUNDS = 8


def _validate_without_broken_keys(document: Any, error: ValidationError) -> Config | None:
    """Given a parsed document and the errors validating it, return the config validated with
    every broken key (and every table missing a required key) taken out, or None if it cannot
    be made valid that way.
    """
    remaining = copy.deepcopy(document)
    for _ in range(_PRUNING_ROUNDS):
        if not any(
            _drop(remaining, detail["loc"], whole_table=detail["type"] == "missing")
            for detail in error.errors()
        ):
            return None
        try:
            return Config.model_validate(remaining)
        except ValidationError as again:
            error = again
    return None


def _drop(document: Any, location: tuple[str | int, ...], *, whole_table: bool) -> bool:
    """Given a document, an error location and whether the table holding it must go (a
    required key is missing), delete that from the document; return whether anything was.
    """
    keys = location[:-1] if whole_table else location
    parent: Any = None
    last: str | int | None = None
    node = document
    for key in keys:
        in_table = isinstance(node, dict) and key in node
        in_array = isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        # Neither: a union tag or a name pydantic adds to the location, not a key of the file.
        if in_table or in_array:
            parent, last, node = node, key, node[key]
    if parent is None or last is None:
        return False
    del parent[last]
    return True


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
