"""The shape of sfsync.toml (SPEC section 4), as pydantic models that refuse unknown keys.

Only the shape and the rules of single values live here; rules that relate several keys
(gates, duplicate resources) are checked in `rules.py`, after the shape is known to be right.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from sfsync.config.durations import parse_duration
from sfsync.config.names import label_problem, resource_name_problem

MAX_PORT = 65535
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        # pydantic reports ValueError as a validation problem; TypeError would escape it.
        raise ValueError('a duration is a string such as "30s", "5m" or "1h"')  # noqa: TRY004
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def is_loopback_host(host: str) -> bool:
    """Given a host name or address, return whether it can only mean this machine."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DaemonSettings(_Section):
    state_dir: Path = Path("/var/lib/sfsync")
    metrics_listen: str = "127.0.0.1:9464"
    log_format: Literal["json", "console"] = "json"
    concurrency: Annotated[int, Field(ge=1, le=256)] = 8
    keep_packages: Annotated[int, Field(ge=1, le=1000)] = 10
    keepalive: Duration = timedelta(days=7)

    @field_validator("state_dir", mode="before")
    @classmethod
    def _path(cls, value: object) -> object:
        return Path(value) if isinstance(value, str) else value

    @field_validator("metrics_listen")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        if value == "":
            return value
        host, separator, port = value.rpartition(":")
        if not separator or not host or not port.isdigit() or not 0 < int(port) <= MAX_PORT:
            raise ValueError(f'{value!r} is not HOST:PORT (e.g. "127.0.0.1:9464"), nor "" for off')
        return value

    @field_validator("keepalive")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("keepalive must be longer than zero")
        return value


class OAuthSettings(_Section):
    # The default consumer key; an environment's own `client_id` overrides it (a Local External
    # Client App works only in the org that created it, so each org usually has its own).
    client_id: Annotated[str, Field(min_length=1)] | None = None
    callback_port: Annotated[int, Field(ge=1, le=65535)] = 1717
    callback_path: str = "/OAuthCallback"
    ca_bundle: Path | None = None

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _path(cls, value: object) -> object:
        return Path(value) if isinstance(value, str) else value

    @field_validator("callback_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/") or "?" in value or "#" in value:
            raise ValueError(f"{value!r} must be a URL path starting with '/'")
        return value


class SalesforceSettings(_Section):
    api_version: Annotated[str, Field(pattern=r"^[1-9][0-9]\.0$")] = "64.0"
    timeout: Duration = timedelta(seconds=60)
    api_usage_ceiling: Annotated[float, Field(gt=0, le=1)] = 0.8
    # How long one push polls its Metadata deploy before leaving it to the next cycle; also
    # how long a deploy whose request got no answer may still run in the org (see the doubt).
    deploy_patience: Duration = timedelta(minutes=5)

    @field_validator("api_usage_ceiling", mode="before")
    @classmethod
    def _number(cls, value: object) -> object:
        # TOML writes 1 as an integer; a share of 1 is as meaningful as 1.0.
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("timeout", "deploy_patience")
    @classmethod
    def _positive(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        if value <= timedelta(0):
            raise ValueError(f"{info.field_name} must be longer than zero")
        return value


class KeyringSettings(_Section):
    """Where refresh tokens are kept (SPEC section 6): a keyring backend, never a plain file."""

    backend: Annotated[str, Field(pattern=r"^(auto|cryptfile|[A-Za-z_][\w.]*\.[A-Za-z_]\w*)$")] = (
        "auto"
    )
    cryptfile_path: Path | None = None

    @field_validator("cryptfile_path", mode="before")
    @classmethod
    def _path(cls, value: object) -> object:
        return Path(value) if isinstance(value, str) else value


class PackageSettings(_Section):
    """Limits on what a published package may expand to, against zip bombs."""

    max_expanded_bytes: Annotated[int, Field(ge=1)] = 200 * 1024 * 1024
    max_entries: Annotated[int, Field(ge=1, le=65535)] = 10_000
    max_ratio: Annotated[int, Field(ge=1)] = 200
    max_settings_bytes: Annotated[int, Field(ge=1)] = 1024 * 1024


class DirSource(_Section):
    type: Literal["dir"]
    path: Path
    settle: Duration = timedelta(seconds=2)
    # The daemon's safety net for a lost inotify event (a full queue, a network file system,
    # a folder that could not be watched): how often it lists the folder anyway.
    rescan: Duration = timedelta(seconds=30)

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, value: object) -> object:
        return Path(value) if isinstance(value, str) else value

    @field_validator("rescan")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("rescan must be longer than zero")
        return value


class HttpSource(_Section):
    type: Literal["http"]
    url: str
    poll: Duration = timedelta(minutes=5)
    max_bytes: Annotated[int, Field(ge=1)] = 50 * 1024 * 1024

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"https", "http"} or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValueError(f"{value!r} must use https (plain http is allowed for loopback only)")
        return value

    @field_validator("poll")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("poll must be longer than zero")
        return value


Source = Annotated[DirSource | HttpSource, Field(discriminator="type")]


class EnvironmentSettings(_Section):
    login_url: str | None = None
    client_id: Annotated[str, Field(min_length=1)] | None = None
    api: Literal["tooling", "metadata"] = "tooling"
    overrides: dict[str, Any] = Field(default_factory=dict)
    verify: bool = False
    requires: str | None = None
    soak: Duration | None = None

    @field_validator("login_url")
    @classmethod
    def _login_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"{value!r} must be an https URL such as https://test.salesforce.com")
        if parts.path not in {"", "/"} or parts.query or parts.fragment:
            raise ValueError(f"{value!r} must be a bare host URL, without a path or query")
        if parts.hostname.endswith(".lightning.force.com"):
            raise ValueError(
                f"{value!r} is a Lightning UI host, which does not serve OAuth; use the org's "
                "My Domain (https://NAME.my.salesforce.com) or test/login.salesforce.com"
            )
        return value.rstrip("/")

    @field_validator("soak")
    @classmethod
    def _not_negative(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(0):
            raise ValueError("soak cannot be negative")
        return value


class SystemSettings(_Section):
    resource: str
    # Private unless asked: Public lets any cache (and unauthenticated users) keep the content.
    cache_control: Literal["public", "private"] = "private"
    source: Source
    settings_file: Annotated[str, Field(min_length=1)] = "settings.json"
    environments: Annotated[dict[str, EnvironmentSettings], Field(min_length=1)]

    @field_validator("resource")
    @classmethod
    def _resource_name(cls, value: str) -> str:
        problem = resource_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("settings_file")
    @classmethod
    def _relative_posix_path(cls, value: str) -> str:
        if value.startswith("/") or "\\" in value or ".." in value.split("/"):
            raise ValueError(f"{value!r} must be a relative path inside the package")
        return value

    @field_validator("environments")
    @classmethod
    def _environment_names(
        cls, value: dict[str, EnvironmentSettings]
    ) -> dict[str, EnvironmentSettings]:
        for name in value:
            problem = label_problem(name, "environment")
            if problem:
                raise ValueError(problem)
        return value


class Config(_Section):
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    oauth: OAuthSettings = Field(default_factory=OAuthSettings)
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    package: PackageSettings = Field(default_factory=PackageSettings)
    keyring: KeyringSettings = Field(default_factory=KeyringSettings)
    systems: Annotated[dict[str, SystemSettings], Field(min_length=1)]

    @field_validator("systems")
    @classmethod
    def _system_names(cls, value: dict[str, SystemSettings]) -> dict[str, SystemSettings]:
        for name in value:
            problem = label_problem(name, "system")
            if problem:
                raise ValueError(problem)
        return value
