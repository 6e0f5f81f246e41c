"""Issue 14 item 9b: the keyring passphrase given in $SFSYNC_KEYRING_PASSPHRASE stayed in the
daemon's environment (inherited by children, visible in /proc/PID/environ), and the process
holding the tokens could be dumped or read by any process of its user. Replayed in a fresh
process, as the CLI starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PASSPHRASE = "replayed-passphrase-4f1c"

AFTER_READING = """
import json, os, subprocess, sys
from pathlib import Path
from sfsync.tokens.backends import read_passphrase

taken = read_passphrase()
child = subprocess.run(
    [sys.executable, "-c", "import os; print(os.environ.get('SFSYNC_KEYRING_PASSPHRASE'))"],
    capture_output=True, text=True, check=True,
).stdout.strip()
print(json.dumps({
    "taken": taken,
    "in_os_environ": "SFSYNC_KEYRING_PASSPHRASE" in os.environ,
    "in_proc_environ": sys.argv[1].encode() in Path("/proc/self/environ").read_bytes(),
    "child_sees": child,
}))
"""

AFTER_CLI_START = """
import ctypes, json
from sfsync.cli import main

try:
    main(["--version"])
except SystemExit:
    pass
libc = ctypes.CDLL(None)
print(json.dumps({"dumpable": libc.prctl(3, 0, 0, 0, 0)}))
"""


def run_python(script: str, *args: str) -> dict[str, object]:
    """Run a script in a fresh interpreter with the passphrase in its environment; return the
    JSON it prints.
    """
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "daemon"),
        "SFSYNC_KEYRING_PASSPHRASE": PASSPHRASE,
    }
    env.pop("CREDENTIALS_DIRECTORY", None)
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    report: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return report


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and glibc")
def test_passphrase_leaves_the_environment_once_read() -> None:
    """After the passphrase is read it is in neither os.environ, /proc/self/environ (its bytes
    are zeroed) nor the environment of a child process.
    """
    report = run_python(AFTER_READING, PASSPHRASE)
    assert report == {
        "taken": PASSPHRASE,
        "in_os_environ": False,
        "in_proc_environ": False,
        "child_sees": "None",
    }


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_cli_makes_its_process_undumpable() -> None:
    """Once the CLI has started, prctl(PR_GET_DUMPABLE) answers 0: no core file, and other
    processes of the user cannot read its memory or environment.
    """
    assert run_python(AFTER_CLI_START) == {"dumpable": 0}
