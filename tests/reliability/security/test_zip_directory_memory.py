"""Issue 14 item 6: a ZIP of a million empty entries (92 MB) made the reader build the whole
central directory, 572 MB of RSS, before `max_entries` refused it. Replayed in a fresh process
whose peak RSS is measured around the read; the refusal must now cost next to nothing.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]

ENTRIES = 1_000_000
LOCAL = struct.Struct("<4sHHHHHIIIHH")
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
END = struct.Struct("<4sHHHHIIH")
MIB = 1024 * 1024
# What the refusal may add to the peak RSS of a process that has already imported sfsync.
ALLOWED_GROWTH = 32 * MIB

# The peak is read as VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so
# a child of this test (which holds the archive's bytes) would start at the test's own peak.
READER = """
import json, sys
from pathlib import Path
from sfsync.errors import PackageError
from sfsync.package.limits import PackageLimits
from sfsync.package.read import read_zip

def peak_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit("no VmHWM")

before = peak_kib()
try:
    read_zip(Path(sys.argv[1]), PackageLimits())
    outcome = "accepted"
except PackageError as error:
    outcome = f"{type(error).__name__}: {error}"
after = peak_kib()
print(json.dumps({"before_kib": before, "after_kib": after, "outcome": outcome}))
"""


def write_many_empty_entries(path: Path, declared: int) -> int:
    """Write a ZIP of ENTRIES empty stored files whose end record declares `declared` entries;
    return its size.
    """
    body = bytearray()
    central = bytearray()
    for index in range(ENTRIES):
        name = b"%07d" % index
        offset = len(body)
        body += LOCAL.pack(b"PK\x03\x04", 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0) + name
        central += CENTRAL.pack(
            b"PK\x01\x02", 0x314, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0, 0,
            0o100644 << 16, offset,
        )  # fmt: skip
        central += name
    count = min(declared, 0xFFFF)
    end = END.pack(b"PK\x05\x06", 0, 0, count, count, len(central), len(body), 0)
    path.write_bytes(body + central + end)
    return len(body) + len(central) + len(end)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
@pytest.mark.parametrize("declared", [ENTRIES, 1], ids=["honest-count", "count-lies-low"])
def test_million_entry_zip_is_refused_without_reading_its_directory(
    tmp_path: Path, figures: Any, declared: int
) -> None:
    """A million-entry ZIP is refused for max_entries, and the read grows peak RSS by less than
    32 MB (it was 572 MB), whether its end record states the count or lies that it is one.
    """
    archive = tmp_path / "many.zip"
    size = write_many_empty_entries(archive, declared)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "daemon")}
    result = subprocess.run(
        [sys.executable, "-c", READER, str(archive)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    report = json.loads(result.stdout)
    growth = (report["after_kib"] - report["before_kib"]) * 1024
    peak = report["after_kib"] * 1024
    figures.add(
        "zip central directory",
        f"{ENTRIES:,} entries ({size / MIB:.0f} MB), count {declared:,}: peak RSS",
        f"{peak / MIB:.0f} MB (+{growth / MIB:.1f} MB)",
        held=growth < ALLOWED_GROWTH,
    )
    assert report["outcome"].startswith("ArchiveLimitError: "), report["outcome"]
    assert "max_entries" in report["outcome"]
    assert "\n" not in report["outcome"]
    assert growth < ALLOWED_GROWTH, f"reading grew peak RSS by {growth / MIB:.0f} MB"
