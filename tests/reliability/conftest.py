"""The reliability suite (`make reliability`; `make test` runs it shortened): each test records
its figures with the `figures` fixture, and the session ends with one summary table (see
`figures.py`, which the root conftest loads as a plugin so that it also runs under xdist).

RELIABILITY_SCALE=full (what `make reliability` sets) runs the sizes the issue asks for; the
default, "quick", runs the same checks smaller so that CI stays fast.
"""

from __future__ import annotations

import pytest

from tests.reliability.figures import SCALE, Figures


@pytest.fixture
def figures() -> Figures:
    """The summary table's recorder."""
    return Figures()


@pytest.fixture
def scale() -> str:
    """Return "full" under `make reliability`, else "quick"."""
    return SCALE
