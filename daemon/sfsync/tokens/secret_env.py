"""Take a secret out of the process environment once it has been read.

A variable left in `os.environ` is inherited by every child process, shows in
/proc/PID/environ and lands in a core dump. So the first read removes it: the bytes in the C
environment are zeroed (unsetenv alone leaves the original block, which /proc/PID/environ
shows, untouched) and the variable is unset. The value is kept in this module for later reads
in the same process, since a reload opens the keyring again.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping

_taken: dict[str, str] = {}


def take_secret_variable(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """Given a variable's name and the environment to read, return its value (None if unset).

    When `environ` is the process environment, the variable is wiped and removed from it, and
    later calls return the value taken, unless the variable has been set again meanwhile.
    """
    if environ is not os.environ:
        return environ.get(name)
    value = os.environ.get(name)
    if value is None:
        return _taken.get(name)
    _taken[name] = value
    _wipe_c_environment(name)
    del os.environ[name]
    return value


def _wipe_c_environment(name: str) -> None:
    # Only on Linux, where the C library is reachable this way; elsewhere unsetting is all.
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.getenv.restype = ctypes.c_void_p
        libc.getenv.argtypes = [ctypes.c_char_p]
        libc.strlen.restype = ctypes.c_size_t
        libc.strlen.argtypes = [ctypes.c_void_p]
    except (OSError, AttributeError):
        return
    address = libc.getenv(os.fsencode(name))
    if address:
        ctypes.memset(address, 0, libc.strlen(address))
