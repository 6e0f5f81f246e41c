"""The floor under a push's CPU: floor_push.py (sfsync's build plus one HTTPS write, nothing
else, in a process of its own) writing one package to one emulated org again and again; its CPU
per push, whole and for the write alone, for row 3 to set the daemon's CPU per push against.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench.baseline import ca_environment
from bench.workspace import CLIENT_ID, RESOURCE
from sfsync_emulator import Emulator, OrgHandle

FLOOR_SCRIPT = Path(__file__).with_name("floor_push.py")


def floor_command(org: OrgHandle, ca_path: Path, scratch: Path) -> tuple[list[str], dict[str, str]]:
    """Given an org, the emulator's CA and a scratch folder, write the floor's spec (a fresh
    session for the org) and return the command that runs `floor_push.py` and its environment.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    ca = scratch / "ca.pem"
    ca.write_bytes(ca_path.read_bytes())
    spec = {
        "instance_url": org.instance_url,
        "access_token": org.issue_session(CLIENT_ID)[0],
        "ca": str(ca),
        "api_version": "64.0",
        "resource": RESOURCE,
    }
    (scratch / "spec.json").write_text(json.dumps(spec))
    return [sys.executable, str(FLOOR_SCRIPT), str(scratch / "spec.json")], ca_environment(ca)


def floor_cpu(emu: Emulator, package: Path, scratch: Path, pushes: int) -> dict[str, float]:
    """Given a started emulator and a published ZIP, push it `pushes` times (after one that
    creates the resource and warms the compression cache); return the median CPU seconds per
    push, whole ("push") and its write alone ("write").
    """
    command, env = floor_command(emu.add_org(name="fanout-floor"), emu.ca_path, scratch)
    done = subprocess.run(
        command,
        input=f"{package}\n" * (pushes + 1),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the floor process failed: {done.stderr[-2000:]}")
    figures = [line.split() for line in done.stdout.splitlines()[1:]]
    return {
        "push": statistics.median(float(fields[1]) for fields in figures),
        "write": statistics.median(float(fields[2]) for fields in figures),
    }
