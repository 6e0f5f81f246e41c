"""Freed memory goes back to the OS after a cycle: glibc's malloc_trim where there is one."""

from __future__ import annotations

import platform

from sfsync.daemon.memory import release_free_memory


def test_release_free_memory_trims_on_glibc() -> None:
    """On glibc the call is made (and reported); anywhere else it is a harmless no-op."""
    released = release_free_memory()
    assert released is (platform.libc_ver()[0] == "glibc")
    assert release_free_memory() is released  # the lookup is made once and kept
