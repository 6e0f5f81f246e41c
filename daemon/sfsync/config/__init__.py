"""Configuration: where it is found, what it may say, and the connectors it describes."""

from sfsync.config.connectors import (
    Connector,
    default_login_url,
    resolve_connectors,
    select_connector,
    short_client_id,
)
from sfsync.config.load import LoadedConfig, find_config_path, load_config, parse_config
from sfsync.config.schema import Config

__all__ = [
    "Config",
    "Connector",
    "LoadedConfig",
    "default_login_url",
    "find_config_path",
    "load_config",
    "parse_config",
    "resolve_connectors",
    "select_connector",
    "short_client_id",
]
