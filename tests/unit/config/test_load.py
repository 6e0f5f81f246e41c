"""Loading sfsync.toml: every rule gives one line naming the file, the key path and the problem."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from sfsync.config import find_config_path, load_config, parse_config
from sfsync.errors import ConfigError, ExitStatus

CONFIG_PATH = Path("/etc/sfsync/sfsync.toml")

VALID = """
[oauth]
client_id = "3MVG9example"

[systems.lightning]
resource = "WalkMeLightning"
source = { type = "dir", path = "drop", settle = "2s" }

[systems.lightning.environments.sandbox]
overrides = { active = true }

[systems.lightning.environments.production]
requires = "sandbox"
soak = "1h"
"""


def config_error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), CONFIG_PATH)
    assert caught.value.exit_status == ExitStatus.USAGE
    return str(caught.value)


def with_system(system_body: str, env_body: str = "") -> str:
    return f"""
[oauth]
client_id = "x"
[systems.lightning]
{textwrap.dedent(system_body)}
[systems.lightning.environments.sandbox]
{textwrap.dedent(env_body)}
"""


BASE_SYSTEM = 'resource = "WalkMe"\nsource = { type = "dir", path = "drop" }\n'


def test_valid_config_resolves_connectors_with_defaults() -> None:
    """A minimal config resolves login URLs by environment name, Tooling API and Private cache."""
    loaded = parse_config(VALID, CONFIG_PATH)
    sandbox, production = loaded.connectors
    assert sandbox.name == "lightning/sandbox"
    assert sandbox.login_url == "https://test.salesforce.com"
    assert production.login_url == "https://login.salesforce.com"
    assert sandbox.api == "tooling"
    assert sandbox.cache_control == "Private"
    assert sandbox.overrides == {"active": True}
    assert sandbox.verify is False
    assert production.requires == "sandbox"
    assert production.soak == timedelta(hours=1)
    assert sandbox.requires is None
    assert sandbox.soak is None


def test_requires_without_soak_means_zero_soak() -> None:
    """A gate with no soak only asks that the content be live on the required environment."""
    text = VALID.replace('soak = "1h"\n', "")
    production = parse_config(text, CONFIG_PATH).connectors[1]
    assert production.soak == timedelta(0)


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    """state_dir, source paths and ca_bundle are anchored at the config file's folder."""
    text = VALID + '\n[daemon]\nstate_dir = "state"\n'
    text = text.replace("[oauth]\n", '[oauth]\nca_bundle = "ca.pem"\n')
    loaded = parse_config(text, tmp_path / "sfsync.toml")
    assert loaded.config.daemon.state_dir == tmp_path / "state"
    assert loaded.config.oauth.ca_bundle == tmp_path / "ca.pem"
    assert loaded.connectors[0].source.path == tmp_path / "drop"  # type: ignore[union-attr]


def test_absolute_paths_stay_as_written(tmp_path: Path) -> None:
    """An absolute path in the config is not re-anchored."""
    text = VALID.replace('path = "drop"', 'path = "/srv/walkme"')
    loaded = parse_config(text, tmp_path / "sfsync.toml")
    assert loaded.connectors[0].source.path == Path("/srv/walkme")  # type: ignore[union-attr]


def test_custom_login_url_and_metadata_api() -> None:
    """A My Domain login URL is kept (without a trailing slash) and api = "metadata" is honoured."""
    text = with_system(
        BASE_SYSTEM,
        'login_url = "https://acme--uat.sandbox.my.salesforce.com/"\napi = "metadata"\n',
    )
    connector = parse_config(text, CONFIG_PATH).connectors[0]
    assert connector.login_url == "https://acme--uat.sandbox.my.salesforce.com"
    assert connector.api == "metadata"


def test_dir_source_rescan_defaults_to_30_seconds_and_can_be_set() -> None:
    """A drop folder is re-scanned every 30 s unless `rescan` says otherwise."""
    default = parse_config(VALID, CONFIG_PATH).connectors[0].source
    assert default.rescan == timedelta(seconds=30)  # type: ignore[union-attr]
    text = VALID.replace('settle = "2s" }', 'settle = "2s", rescan = "5m" }')
    chosen = parse_config(text, CONFIG_PATH).connectors[0].source
    assert chosen.rescan == timedelta(minutes=5)  # type: ignore[union-attr]


def test_http_source_is_accepted() -> None:
    """An https source URL with a poll interval validates."""
    system = (
        'resource = "W"\n'
        'source = { type = "http", url = "https://cdn.example.com/p.zip", poll = "5m" }\n'
    )
    connector = parse_config(with_system(system), CONFIG_PATH).connectors[0]
    assert connector.source.type == "http"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("[oauth\nclient_id = 1", "invalid TOML", id="toml-syntax"),
        pytest.param(VALID + "\n[extra]\na = 1\n", "at 'extra': unknown key", id="unknown-top-key"),
        pytest.param(
            VALID.replace("overrides =", "colour = 1\noverrides ="),
            "at 'systems.lightning.environments.sandbox.colour': unknown key",
            id="unknown-nested-key",
        ),
        pytest.param(
            VALID.replace('client_id = "3MVG9example"', ""),
            "at 'systems.lightning.environments.sandbox.client_id': no consumer key",
            id="missing-client-id",
        ),
        pytest.param(
            VALID.replace('client_id = "3MVG9example"', 'client_id = ""'),
            "at 'oauth.client_id'",
            id="empty-client-id",
        ),
        pytest.param(
            '[oauth]\nclient_id = "x"\n', "at 'systems': required key is missing", id="no-systems"
        ),
        pytest.param('[oauth]\nclient_id = "x"\n[systems]\n', "at 'systems'", id="empty-systems"),
        pytest.param(
            '[oauth]\nclient_id = "x"\n[systems.a]\n' + BASE_SYSTEM,
            "at 'systems.a.environments': required key is missing",
            id="no-environments",
        ),
        pytest.param(
            VALID.replace("[systems.lightning]", "[systems.Light]").replace(
                "systems.lightning.", "systems.Light."
            ),
            "system name 'Light' must be",
            id="bad-system-name",
        ),
        pytest.param(
            with_system(BASE_SYSTEM).replace("environments.sandbox", "environments.Sand_Box"),
            "environment name 'Sand_Box' must be",
            id="bad-environment-name",
        ),
    ],
)
def test_structure_errors(text: str, expected: str) -> None:
    """Structural problems name the file and the key path."""
    message = config_error(text)
    assert message.startswith(f"{CONFIG_PATH}:")
    assert expected in message


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        pytest.param("1WalkMe", "must start with a letter", id="leading-digit"),
        pytest.param("_WalkMe", "must start with a letter", id="leading-underscore"),
        pytest.param("Walk__Me", "two underscores in a row", id="double-underscore"),
        pytest.param("WalkMe_", "must not end with an underscore", id="trailing-underscore"),
        pytest.param("Walk-Me", "only letters, digits and underscores", id="hyphen"),
        pytest.param("Walk Me", "only letters, digits and underscores", id="space"),
        pytest.param("WalkMé", "only letters, digits and underscores", id="non-ascii"),
        pytest.param("", "cannot be empty", id="empty"),
        pytest.param("W" * 81, "longer than 80", id="too-long"),
    ],
)
def test_resource_name_rules(name: str, reason: str) -> None:
    """Static Resource names follow Salesforce's naming rules."""
    system = f'resource = "{name}"\nsource = {{ type = "dir", path = "d" }}\n'
    message = config_error(with_system(system))
    assert "at 'systems.lightning.resource'" in message
    assert reason in message


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        pytest.param(
            '[daemon]\nkeepalive = "7 days"',
            "at 'daemon.keepalive': '7 days' is not a duration",
            id="bad-duration",
        ),
        pytest.param(
            '[daemon]\nkeepalive = "0s"', "keepalive must be longer than zero", id="zero-keepalive"
        ),
        pytest.param(
            "[daemon]\nkeepalive = 7",
            "at 'daemon.keepalive': a duration is a string",
            id="duration-not-string",
        ),
        pytest.param(
            '[daemon]\nconcurrency = "8"',
            "at 'daemon.concurrency': must be a whole number",
            id="int-as-string",
        ),
        pytest.param(
            "[daemon]\nconcurrency = true",
            "at 'daemon.concurrency': must be a whole number",
            id="bool-as-int",
        ),
        pytest.param("[daemon]\nconcurrency = 0", "at 'daemon.concurrency'", id="concurrency-zero"),
        pytest.param("[daemon]\nkeep_packages = 0", "at 'daemon.keep_packages'", id="keep-zero"),
        pytest.param('[daemon]\nlog_format = "xml"', "at 'daemon.log_format'", id="log-format"),
        pytest.param('[daemon]\nmetrics_listen = "9464"', "is not HOST:PORT", id="listen-no-host"),
        pytest.param(
            '[daemon]\nmetrics_listen = "127.0.0.1:99999"',
            "is not HOST:PORT",
            id="listen-port-range",
        ),
        pytest.param("[daemon]\nstate_dir = 5", "at 'daemon.state_dir'", id="state-dir-type"),
        pytest.param(
            '[salesforce]\napi_version = "64"',
            "at 'salesforce.api_version'",
            id="api-version-format",
        ),
        pytest.param(
            "[salesforce]\napi_usage_ceiling = 1.5",
            "at 'salesforce.api_usage_ceiling'",
            id="ceiling-range",
        ),
        pytest.param(
            '[salesforce]\ntimeout = "0s"', "timeout must be longer than zero", id="zero-timeout"
        ),
        pytest.param(
            '[salesforce]\ndeploy_patience = "0s"',
            "at 'salesforce.deploy_patience': deploy_patience must be longer than zero",
            id="zero-deploy-patience",
        ),
        pytest.param("[package]\nmax_entries = 0", "at 'package.max_entries'", id="max-entries"),
        pytest.param("[oauth.x]\n", "at 'oauth.x': unknown key", id="oauth-unknown"),
    ],
)
def test_value_errors_in_sections(section: str, expected: str) -> None:
    """Bad values in [daemon], [salesforce] and [package] name their key."""
    message = config_error(VALID + "\n" + section + "\n")
    assert expected in message


def test_ceiling_of_one_written_as_integer_is_accepted() -> None:
    """TOML writes 1 as an integer; a ceiling of 1 is valid."""
    loaded = parse_config(VALID + "\n[salesforce]\napi_usage_ceiling = 1\n", CONFIG_PATH)
    assert loaded.config.salesforce.api_usage_ceiling == 1.0


@pytest.mark.parametrize(
    ("system", "env", "expected"),
    [
        pytest.param(
            BASE_SYSTEM + 'cache_control = "Public"',
            "",
            "at 'systems.lightning.cache_control'",
            id="cache-control-case",
        ),
        pytest.param(
            'resource = "W"\nsource = { type = "ftp", path = "d" }',
            "",
            'type must be "dir" or "http"',
            id="source-type",
        ),
        pytest.param(
            'resource = "W"\nsource = { path = "d" }', "", "type is missing", id="source-no-type"
        ),
        pytest.param(
            'resource = "W"\nsource = { type = "dir" }',
            "",
            "at 'systems.lightning.source.path': required key is missing",
            id="dir-no-path",
        ),
        pytest.param(
            'resource = "W"\nsource = { type = "dir", path = "d", settle = "soon" }',
            "",
            "at 'systems.lightning.source.settle'",
            id="settle",
        ),
        pytest.param(
            'resource = "W"\nsource = { type = "dir", path = "d", rescan = "0s" }',
            "",
            "rescan must be longer than zero",
            id="zero-rescan",
        ),
        pytest.param(
            'resource = "W"\nsource = { type = "http", url = "http://cdn.example.com/p.zip" }',
            "",
            "must use https",
            id="http-not-loopback",
        ),
        pytest.param(
            'resource = "W"\nsource = { type = "http", url = "ftp://x/p.zip" }',
            "",
            "is not an http(s) URL",
            id="url-scheme",
        ),
        pytest.param(
            'resource = "W"\nsource = { type = "http", url = "https://x/p.zip", poll = "0s" }',
            "",
            "poll must be longer than zero",
            id="zero-poll",
        ),
        pytest.param(
            BASE_SYSTEM + 'settings_file = "/etc/settings.json"',
            "",
            "must be a relative path",
            id="settings-absolute",
        ),
        pytest.param(
            BASE_SYSTEM + 'settings_file = "../settings.json"',
            "",
            "must be a relative path",
            id="settings-dotdot",
        ),
        pytest.param(
            BASE_SYSTEM,
            'api = "soap"',
            "at 'systems.lightning.environments.sandbox.api'",
            id="api-choice",
        ),
        pytest.param(
            BASE_SYSTEM,
            'login_url = "http://test.salesforce.com"',
            "must be an https URL",
            id="login-http",
        ),
        pytest.param(
            BASE_SYSTEM,
            'login_url = "https://test.salesforce.com/services"',
            "bare host URL",
            id="login-path",
        ),
        pytest.param(
            BASE_SYSTEM,
            'login_url = "https://acme.lightning.force.com"',
            "Lightning UI host",
            id="login-lightning",
        ),
        pytest.param(
            BASE_SYSTEM,
            "overrides = 5",
            "at 'systems.lightning.environments.sandbox.overrides': must be a table",
            id="overrides-type",
        ),
        pytest.param(BASE_SYSTEM, 'verify = "yes"', "must be true or false", id="verify-type"),
        pytest.param(
            BASE_SYSTEM,
            'soak = "-1h"',
            "at 'systems.lightning.environments.sandbox.soak'",
            id="soak-format",
        ),
    ],
)
def test_system_and_environment_errors(system: str, env: str, expected: str) -> None:
    """Bad values in a system or environment name their full key path."""
    assert expected in config_error(with_system(system, env))


@pytest.mark.parametrize(
    ("production", "expected"),
    [
        pytest.param(
            'requires = "uat"',
            "'uat' is not an environment of system 'lightning' (it has: production, sandbox)",
            id="requires-unknown",
        ),
        pytest.param(
            'requires = "production"', "an environment cannot require itself", id="requires-self"
        ),
        pytest.param(
            'soak = "1h"', "soak only has a meaning with requires", id="soak-without-requires"
        ),
    ],
)
def test_gate_rules(production: str, expected: str) -> None:
    """Promotion gates must name another environment of the same system."""
    text = with_system(BASE_SYSTEM) + f"[systems.lightning.environments.production]\n{production}\n"
    message = config_error(text)
    assert "at 'systems.lightning.environments.production." in message
    assert expected in message


def test_gate_cycle_is_refused() -> None:
    """Two environments that require each other can never receive anything."""
    text = (
        with_system(BASE_SYSTEM, 'requires = "production"')
        + '[systems.lightning.environments.production]\nrequires = "sandbox"\n'
    )
    message = config_error(text)
    assert message.count("the requires chain forms a loop") == 2


def test_duplicate_resource_names_are_refused() -> None:
    """Two systems cannot write the same Static Resource (compared without case)."""
    text = VALID + (
        '\n[systems.community]\nresource = "walkmelightning"\n'
        'source = { type = "dir", path = "c" }\n[systems.community.environments.sandbox]\n'
    )
    message = config_error(text)
    assert "at 'systems.community.resource'" in message
    assert "already the resource of system 'lightning'" in message


def test_every_problem_is_reported_one_per_line() -> None:
    """Several problems are all listed, each on its own line naming the file."""
    text = with_system(
        'resource = "Bad__Name"\nsource = { type = "dir", path = "d", settle = "x" }', "api = 1"
    )
    lines = config_error(text).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{CONFIG_PATH}: at '") for line in lines)


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    """A missing config file names the path and both ways to choose another."""
    with pytest.raises(
        ConfigError, match=r"config file not found \(give --config PATH or set \$SFSYNC_CONFIG\)"
    ):
        load_config(tmp_path / "absent.toml")


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    """A config that is not UTF-8 is a config error, not a traceback."""
    path = tmp_path / "sfsync.toml"
    path.write_bytes(b'[oauth]\nclient_id = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_config_path_precedence(tmp_path: Path) -> None:
    """--config wins over $SFSYNC_CONFIG, which wins over /etc/sfsync/sfsync.toml."""
    explicit = tmp_path / "a.toml"
    assert find_config_path(explicit, {"SFSYNC_CONFIG": "/x.toml"}) == explicit
    assert find_config_path(None, {"SFSYNC_CONFIG": "/x.toml"}) == Path("/x.toml")
    assert find_config_path(None, {}) == Path("/etc/sfsync/sfsync.toml")
