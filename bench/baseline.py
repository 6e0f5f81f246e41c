"""Running the baseline script (naive_sync.py) against emulated orgs, in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.workspace import CLIENT_ID, RESOURCE
from sfsync_emulator import Emulator, OrgHandle

SCRIPT = Path(__file__).with_name("naive_sync.py")


def ca_environment(ca: Path) -> dict[str, str]:
    """Return this process's environment with the emulator's CA as requests' bundle: the way
    a script's operator trusts a private CA (requests lets these variables win over `verify`).
    """
    return {**os.environ, "REQUESTS_CA_BUNDLE": str(ca), "CURL_CA_BUNDLE": str(ca)}


def run_naive(
    emu: Emulator, orgs: Iterable[OrgHandle], package: Path, scratch: Path, *, timeout: float
) -> dict[str, Any]:
    """Given orgs and a published ZIP, run one baseline cycle over the orgs in turn; return
    what the script printed ({"started": wall-clock time, "seconds": duration}).
    """
    scratch.mkdir(parents=True, exist_ok=True)
    ca = scratch / "emulator-ca.pem"
    ca.write_bytes(emu.ca_path.read_bytes())
    spec = {
        "ca": str(ca),
        "package": str(package),
        "resource": RESOURCE,
        "api_version": "64.0",
        "orgs": [
            {"instance_url": org.instance_url, "access_token": org.issue_session(CLIENT_ID)[0]}
            for org in orgs
        ],
    }
    spec_path = scratch / "naive-spec.json"
    spec_path.write_text(json.dumps(spec))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(spec_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=ca_environment(ca),
    )
    if done.returncode != 0:
        raise RuntimeError(f"the baseline script failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
