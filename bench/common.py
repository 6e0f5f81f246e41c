"""What every benchmark row shares: the measurement record, the run's mode, statistics and the
few readings of a process's CPU time and memory that Linux gives in /proc.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True)
class Mode:
    """How big and how long the run is: the full benchmark, or `--quick` for CI."""

    quick: bool
    scratch: Path  # a temporary directory the row may fill; removed after the run

    def pick(self, full: Any, quick: Any) -> Any:
        """Return the full-run value, or the quick-run one."""
        return quick if self.quick else full


@dataclass
class Measurement:
    """One printed line: a figure, its unit, the target beside it and whether it is met
    (None when the line is a reference, such as the baseline's own figure).
    """

    row: str  # "1" .. "6", or "K" for the keyring footnote
    case: str
    value: float
    unit: str
    target: str
    met: bool | None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def percentile(values: Sequence[float], share: float) -> float:
    """Given values and a share in [0, 1], return the nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU seconds a process (all its threads) has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime field 14, stime field 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """Return a process's (current RSS, peak RSS) in MB, from /proc/PID/status."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def mb(value: float) -> str:
    """Return a size in MB for the table."""
    return f"{value:,.1f} MB"
