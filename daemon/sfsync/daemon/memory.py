"""Giving freed memory back to the operating system after a burst of work.

A push holds a package's bytes in each push thread; once the cycle is over, glibc keeps most of
what those threads freed in its per-thread arenas, so an idle daemon stayed at its peak size.
`malloc_trim` returns the free pages of every arena. Elsewhere (musl, macOS) it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_free_memory() -> bool:
    """Return the allocator's free pages to the OS where glibc allows; return whether it did."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
