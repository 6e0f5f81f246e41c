"""Make this process refuse to be dumped or inspected by other processes of the same user.

The daemon and the CLI hold OAuth tokens and the keyring passphrase in memory. A process that
is not dumpable writes no core file, and its /proc/PID/mem, environ and fd entries are closed
to other processes of its user (ptrace needs CAP_SYS_PTRACE), as ssh-agent does for its keys.
"""

from __future__ import annotations

import ctypes
import sys

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def make_undumpable() -> bool:
    """Mark the process not dumpable on Linux; return whether it now is not. Elsewhere, or if
    the C library cannot be reached, do nothing and return False.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return False
    prctl.restype = ctypes.c_int
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if int(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) != 0:
        return False
    return int(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) == 0
