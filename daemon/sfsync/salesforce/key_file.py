"""Read a JWT private key only if no one but its owner can read it, as ssh does.

A key others can read has already leaked, in effect: refusing it makes the operator fix the
mode before the key signs anything, instead of sfsync quietly trusting a shared secret. The
mode is checked on the open descriptor, so the file checked is the file read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sfsync.errors import AuthorizationError

_GROUP_OR_OTHERS = 0o077


def read_private_key(path: Path, *, check_mode: bool = os.name == "posix") -> bytes:
    """Given the path of a JWT private key, return its bytes; raise `AuthorizationError` if its
    group or others have any permission on it, and `OSError` if it cannot be read.

    Where there are no POSIX modes (`check_mode` false, Windows by default) it is only read.
    """
    with path.open("rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if check_mode and mode & _GROUP_OR_OTHERS:
            raise AuthorizationError(
                f"the JWT key {path} is accessible by others (mode "
                f"{stat.S_IMODE(mode):04o}); a private key must be readable by its owner only: "
                f"run chmod 600 {path}"
            )
        return file.read()
