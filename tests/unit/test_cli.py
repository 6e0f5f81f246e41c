"""The command line: output, one-line errors and the documented exit codes (SPEC section 5)."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from sfsync.cli import main
from sfsync.config import load_config
from sfsync.errors import ExitStatus

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PACKAGE = ROOT / "examples" / "package"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    code = exited.value.code
    assert isinstance(code, int)
    return code, captured.out, captured.err


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    drop = tmp_path / "drop"
    drop.mkdir()
    path = tmp_path / "sfsync.toml"
    path.write_text(
        """
[daemon]
state_dir = "state"
[oauth]
client_id = "x"
[systems.lightning]
resource = "WalkMeLightning"
source = { type = "dir", path = "drop", settle = "0s" }
[systems.lightning.environments.sandbox]
overrides = { active = true, powerMode = { fingers = 4 } }
[systems.lightning.environments.production]
requires = "sandbox"
"""
    )
    return path


def test_config_check_prints_connectors(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """config check exits 0 and prints one row per connector with its resolved login URL."""
    code, out, _ = run(["--config", str(config_file), "config", "check"], capsys)
    assert code == ExitStatus.OK
    assert "valid, 2 connector(s)" in out
    assert "lightning/sandbox" in out
    assert "https://login.salesforce.com" in out
    assert "live on sandbox for 0s" in out


def test_config_error_exits_2_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid config exits 2 and prints each problem on one line naming file and key."""
    path = tmp_path / "bad.toml"
    path.write_text('[oauth]\nclient_id = "x"\nbogus = 1\n')
    code, out, err = run(["--config", str(path), "config", "check"], capsys)
    assert code == ExitStatus.USAGE
    assert out == ""
    lines = err.strip().splitlines()
    assert f"sfsync: error: {path}: at 'oauth.bogus': unknown key" in lines[0]
    assert any("at 'systems': required key is missing" in line for line in lines)


def test_config_from_environment_variable(
    config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --config, $SFSYNC_CONFIG names the file."""
    monkeypatch.setenv("SFSYNC_CONFIG", str(config_file))
    code, out, _ = run(["config", "check"], capsys)
    assert code == ExitStatus.OK
    assert str(config_file) in out


def test_build_writes_the_zip_and_prints_its_hash(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """build writes exactly the pushed ZIP, with overrides applied, and prints size and SHA-256."""
    output = tmp_path / "out.zip"
    argv = ["--config", str(config_file), "build", "--connector", "lightning/sandbox"]
    code, out, _ = run([*argv, "--package", str(EXAMPLE_PACKAGE), "-o", str(output)], capsys)
    assert code == ExitStatus.OK
    data = output.read_bytes()
    assert hashlib.sha256(data).hexdigest() in out
    assert f"{len(data)} bytes" in out
    with zipfile.ZipFile(output) as archive:
        settings = json.loads(archive.read("settings.json"))
        manifest = json.loads(archive.read("sfsync-manifest.json"))
    assert settings["active"] is True
    assert settings["powerMode"] == {"fingers": 4, "secondsToHold": 2}
    assert manifest["connector"] == "lightning/sandbox"
    assert not list(tmp_path.glob(".out.zip.*")), "no temp file may be left behind"


def test_build_takes_the_newest_zip_from_the_drop_folder(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --package, build uses the newest settled ZIP in the drop folder, ignoring *.part."""
    drop = tmp_path / "drop"
    archive_base = tmp_path / "published"
    shutil.make_archive(str(archive_base), "zip", EXAMPLE_PACKAGE)
    published = drop / "walkme-2.zip"
    shutil.copy(f"{archive_base}.zip", published)
    (drop / "walkme-3.zip.part").write_bytes(b"half a zip")
    output = tmp_path / "out.zip"
    argv = ["--config", str(config_file), "build", "--connector", "lightning/production"]
    code, out, _ = run([*argv, "-o", str(output)], capsys)
    assert code == ExitStatus.OK
    assert str(published) in out
    with zipfile.ZipFile(output) as archive:
        manifest = json.loads(archive.read("sfsync-manifest.json"))
    expected = hashlib.sha256(published.read_bytes()).hexdigest()
    assert manifest["source_version"] == f"sha256:{expected}"


def test_build_of_a_hostile_package_exits_2_and_writes_nothing(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused package exits 2 with one line naming the entry, and no output file appears."""
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(hostile, "w") as archive:
        archive.writestr("settings.json", "{}")
        archive.writestr("../escape.js", "alert(1)")
    output = tmp_path / "out.zip"
    argv = ["--config", str(config_file), "build", "--connector", "lightning/sandbox"]
    code, _, err = run([*argv, "--package", str(hostile), "-o", str(output)], capsys)
    assert code == ExitStatus.USAGE
    assert len(err.strip().splitlines()) == 1
    assert "'../escape.js'" in err
    assert not output.exists()


def test_build_with_an_empty_drop_folder_exits_2(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A drop folder with nothing published yet leaves `build` nothing to build: exit 2 with
    one line naming the connector and the folder, and what to do.
    """
    argv = ["--config", str(config_file), "build", "--connector", "lightning/sandbox"]
    code, _, err = run([*argv, "-o", str(tmp_path / "out.zip")], capsys)
    assert code == ExitStatus.USAGE
    assert len(err.strip().splitlines()) == 1, err
    assert "nothing to build for lightning/sandbox" in err
    assert "no package yet" in err
    assert str(tmp_path / "drop") in err
    assert "--package FILE" in err


def test_config_check_reports_shape_and_rule_problems_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file with a shape problem (wrong type, unknown key) and cross-key problems (a soak
    without requires, a requires naming no environment) reports all of them in one run.
    """
    path = tmp_path / "bad.toml"
    path.write_text(
        """
[daemon]
concurrency = "lots"
[oauth]
client_id = "x"
[systems.lightning]
resource = "WalkMeLightning"
source = { type = "dir", path = "drop" }
[systems.lightning.environments.sandbox]
soak = "1h"
bogus = 1
[systems.lightning.environments.production]
requires = "staging"
"""
    )
    code, out, err = run(["--config", str(path), "config", "check"], capsys)
    assert code == ExitStatus.USAGE
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 4, err
    assert all(line.startswith(f"sfsync: error: {path}: at '") for line in lines), err
    for key in (
        "daemon.concurrency",
        "systems.lightning.environments.sandbox.bogus",
        "systems.lightning.environments.sandbox.soak",
        "systems.lightning.environments.production.requires",
    ):
        assert any(f"at '{key}'" in line for line in lines), (key, err)


@pytest.mark.parametrize("placeholder", ["3MVG9...", "3MVG9abcdef...", "3MVG9production..."])
def test_config_check_refuses_the_placeholder_client_id(
    config_file: Path, capsys: pytest.CaptureFixture[str], placeholder: str
) -> None:
    """The example's placeholder consumer key fails `config check` with a line naming the key
    (other commands still load the file: the shipped example must stay loadable).
    """
    text = config_file.read_text().replace('client_id = "x"', f'client_id = "{placeholder}"')
    config_file.write_text(
        text + f'[systems.lightning.environments.uat]\nclient_id = "{placeholder}"\n'
    )
    code, _, err = run(["--config", str(config_file), "config", "check"], capsys)
    assert code == ExitStatus.USAGE
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert "at 'oauth.client_id'" in lines[0]
    assert "at 'systems.lightning.environments.uat.client_id'" in lines[1]
    assert all("placeholder" in line and "consumer key" in line for line in lines), err
    assert len(load_config(config_file).connectors) == 3


def test_config_check_warns_about_a_missing_drop_folder(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A drop folder that does not exist yet is a warning naming it, not a failure (exit 0)."""
    (tmp_path / "drop").rmdir()
    code, out, err = run(["--config", str(config_file), "config", "check"], capsys)
    assert code == ExitStatus.OK
    assert "valid, 2 connector(s)" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"sfsync: warning: {tmp_path / 'drop'}: ")
    assert "does not exist" in lines[0]


def test_unknown_connector_is_a_usage_error(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown --connector exits 2 and lists the configured ones."""
    argv = ["--config", str(config_file), "build", "--connector", "lightning/uat"]
    code, _, err = run([*argv, "-o", str(tmp_path / "out.zip")], capsys)
    assert code == ExitStatus.USAGE
    assert "configured: lightning/sandbox, lightning/production" in err


def test_bad_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """click's own usage errors exit 2 as well."""
    code, _, err = run(["build", "--no-such-option"], capsys)
    assert code == ExitStatus.USAGE
    assert "No such option" in err
