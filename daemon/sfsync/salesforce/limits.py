"""Reading Salesforce's `Sforce-Limit-Info` header: how much of the daily API budget is spent."""

from __future__ import annotations

import re
from dataclasses import dataclass

_API_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class ApiUsage:
    """Calls made today out of the org's daily allowance."""

    used: int
    allowed: int

    @property
    def ratio(self) -> float:
        """Return the share of the allowance spent (0 when the org reports no allowance)."""
        return self.used / self.allowed if self.allowed else 0.0


def parse_limit_info(header: str | None) -> ApiUsage | None:
    """Given a `Sforce-Limit-Info` value such as "api-usage=18/5000; per-app-api-usage=...",
    return the org-wide usage, or None if the header is absent or has none.
    """
    if not header:
        return None
    match = _API_USAGE.search(header)
    if match is None:
        return None
    return ApiUsage(used=int(match.group(1)), allowed=int(match.group(2)))
