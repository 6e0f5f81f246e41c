"""`python -m bench.run --quick` end to end: every benchmark row still runs (CI never times it)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(660)]

ROOT = Path(__file__).resolve().parents[2]
ROWS = {"1", "2", "3", "4", "5", "6", "7", "K", "S"}


def test_quick_benchmark_measures_every_row(tmp_path: Path) -> None:
    """The quick run exits 0 and writes a numeric measurement for every row of the table."""
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(output.read_text())
    assert results["mode"] == "quick"
    assert not results["broken"]
    assert {row["row"] for row in results["rows"]} == ROWS
    for row in results["rows"]:
        assert isinstance(row["value"], int | float), row
        assert math.isfinite(row["value"]), row
    assert results["machine"]["cores"]
