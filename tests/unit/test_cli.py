"""The command line: output, one-line errors and the documented exit codes (SPEC section 5)."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from sfsync.cli import main
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


def test_build_with_an_empty_drop_folder_fails_with_exit_1(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A source with nothing published yet is a failed check (exit 1), naming the folder."""
    argv = ["--config", str(config_file), "build", "--connector", "lightning/sandbox"]
    code, _, err = run([*argv, "-o", str(tmp_path / "out.zip")], capsys)
    assert code == ExitStatus.FAILURE
    assert "no package yet" in err
    assert str(tmp_path / "drop") in err


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
