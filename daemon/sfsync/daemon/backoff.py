"""How long to wait after failures in a row, before a connector's next push (`pending.py`) or a
system's next look at a source that could not be read (`service.py`): exponential, capped, with
equal jitter, so that connectors failing together spread their retries out instead of coming
back at once, while each still waits at least half its step.
"""

from __future__ import annotations

FIRST_RETRY_SECONDS = 5.0
LONGEST_RETRY_SECONDS = 600.0


def retry_delay(failures: int, draw: float) -> float:
    """Given how many cycles in a row have failed (1 for the first) and a draw in [0, 1),
    return the seconds to wait before the next attempt.
    """
    # The exponent is capped before it is used: a days-long outage must not overflow a float.
    doublings = min(max(0, failures - 1), 30)
    ceiling = min(LONGEST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2.0**doublings)
    return ceiling / 2 + draw * ceiling / 2
