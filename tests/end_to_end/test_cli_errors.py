"""Every error the CLI meets at a path (an unwritable output, a missing file, a state_dir or a
keyring folder that cannot be made, a full disk) is one `sfsync: error:` line naming the path and
a documented exit code, never a traceback: the real CLI, in a subprocess.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.site import SFSYNC, cli_env

pytestmark = pytest.mark.slow

PASSPHRASE = "cli-errors-passphrase"
# Runs the real entry point with every fsync failing as a full disk does (no tiny tmpfs needed).
DISK_FULL = (
    "import errno, os, sys\n"
    "def full(_descriptor):\n"
    "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
    "os.fsync = full\n"
    "from sfsync.cli import main\n"
    "main(sys.argv[1:])\n"
)


@dataclass(frozen=True)
class Case:
    """A command line (with {root} for the test's folder) and what the config should hold."""

    args: tuple[str, ...]
    names: str  # what the one error line must mention
    state_dir: str = "{root}/state"
    cryptfile: str = "{root}/keyring/sfsync.cfg"
    disk_full: bool = False
    tiny_tmpfs: bool = False  # {root}/full is a 64 KiB tmpfs, already full
    status: int = 2


CASES = {
    "build: output folder missing": Case(
        ("build", "-o", "{root}/missing/dir/x.zip"), "{root}/missing/dir/x.zip"
    ),
    "build: output under a file": Case(("build", "-o", "{root}/a-file/x.zip"), "{root}/a-file"),
    "build: output is a folder": Case(("build", "-o", "{root}"), "{root}"),
    "build: disk full": Case(
        ("build", "-o", "{root}/out.zip"), "No space left on device", disk_full=True
    ),
    "build: output on a full tmpfs": Case(
        ("build", "-o", "{root}/full/out.zip"), "{root}/full/out.zip", tiny_tmpfs=True
    ),
    "build: package missing": Case(
        ("build", "--package", "{root}/nope.zip", "-o", "{root}/x.zip"), "{root}/nope.zip"
    ),
    "build: unknown connector": Case(
        ("build", "--connector", "nope/nope", "-o", "{root}/x.zip"), "nope/nope"
    ),
    "config missing": Case(("--config", "{root}/nope.toml", "status"), "{root}/nope.toml"),
    "config under a file": Case(
        ("--config", "{root}/a-file/sfsync.toml", "status"), "{root}/a-file/sfsync.toml"
    ),
    "sync: state_dir under a file": Case(
        ("sync",), "{root}/a-file/state", state_dir="{root}/a-file/state"
    ),
    "run: state_dir under a file": Case(
        ("run",), "{root}/a-file/state", state_dir="{root}/a-file/state"
    ),
    "resume: state_dir under a file": Case(
        ("resume", "--connector", "lightning/sandbox"),
        "{root}/a-file/state",
        state_dir="{root}/a-file/state",
    ),
    "status: keyring folder under a file": Case(
        ("status",), "{root}/a-file/keyring", cryptfile="{root}/a-file/keyring/sfsync.cfg"
    ),
    "revoke: keyring folder under a file": Case(
        ("revoke", "--env", "sandbox", "--system", "lightning"),
        "{root}/a-file/keyring",
        cryptfile="{root}/a-file/keyring/sfsync.cfg",
    ),
    "authorize: jwt key missing": Case(
        (
            "authorize",
            "--env",
            "sandbox",
            "--flow",
            "jwt",
            "--username",
            "u@example.com",
            "--key",
            "{root}/nope.pem",
        ),
        "{root}/nope.pem",
    ),
}


def write_site(root: Path, case: Case) -> Path:
    """Write a config (one connector, a drop folder holding a package) for the case; return it."""
    drop = root / "drop"
    drop.mkdir()
    with zipfile.ZipFile(drop / "walkme.zip", "w") as archive:
        archive.writestr("settings.json", "{}")
        archive.writestr("lib/app.js", "// app\n")
    (root / "a-file").write_text("not a folder\n")
    config = root / "sfsync.toml"
    config.write_text(
        "\n".join(
            [
                "[daemon]",
                f'state_dir = "{case.state_dir.format(root=root)}"',
                'metrics_listen = ""',
                "[oauth]",
                'client_id = "sfsync-cli-errors"',
                "[keyring]",
                'backend = "cryptfile"',
                f'cryptfile_path = "{case.cryptfile.format(root=root)}"',
                "[systems.lightning]",
                'resource = "WalkMeLightning"',
                f'source = {{ type = "dir", path = "{drop}", settle = "0s" }}',
                "[systems.lightning.environments.sandbox]",
                'login_url = "https://test.salesforce.com"',
            ]
        )
        + "\n"
    )
    return config


@contextmanager
def full_tmpfs(path: Path) -> Iterator[None]:
    """Mount a 64 KiB tmpfs at `path` and fill it (needs root with CAP_SYS_ADMIN, as CI has;
    the in-process ENOSPC case covers a box without it).
    """
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr!r}")
    try:
        with contextlib.suppress(OSError), (path / "filler").open("wb") as stream:
            stream.write(b"\0" * (1024 * 1024))
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_path_errors_are_one_line_and_a_documented_exit_code(tmp_path: Path, case: Case) -> None:
    """Each command meeting a bad path prints exactly one `sfsync: error:` line naming it,
    exits with its documented code, and shows no traceback.
    """
    config = write_site(tmp_path, case)
    with full_tmpfs(tmp_path / "full") if case.tiny_tmpfs else contextlib.nullcontext():
        run_case(tmp_path, config, case)


def run_case(tmp_path: Path, config: Path, case: Case) -> None:
    """Run the case's command line and check its one line and exit code."""
    args = [part.format(root=tmp_path) for part in case.args]
    if args[0] != "--config":
        args = ["--config", str(config), *args]
    command = [sys.executable, "-c", DISK_FULL, *args] if case.disk_full else [str(SFSYNC), *args]
    done = subprocess.run(
        command,
        env=cli_env({"SFSYNC_KEYRING_PASSPHRASE": PASSPHRASE, "HOME": str(tmp_path / "home")}),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    lines = done.stderr.splitlines()
    assert done.returncode == case.status, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("sfsync: error: "), lines
    assert case.names.format(root=tmp_path) in lines[0]
