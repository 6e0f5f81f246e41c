"""One lock, a file in the state dir (`sfsync.locks.keyring_lock_path`), around every keyring
read and write sfsync makes.

File keyrings read the whole file, change it and write it back: two processes (the daemon
refreshing a token, an operator running `sfsync authorize`) doing that at once each write back
what they read, and one's entries are lost (31 of 121 in a test with two writers). An
exclusive `flock` on one file serialises them across processes, and, since each hold opens
the file afresh, across threads of one process too.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sfsync.errors import StateDirectoryError, describe_os_error
from sfsync.files import make_private_directories


@contextmanager
def keyring_lock(path: Path | None) -> Iterator[None]:
    """Hold the keyring lock at `path` (blocking until it is free); no lock if None.

    Raise StateDirectoryError (exit 2, like every unwritable state_dir) if the lock file
    cannot be created.
    """
    if path is None:
        yield
        return
    try:
        make_private_directories(path.parent)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise StateDirectoryError(describe_os_error(path, error, "lock the keyring")) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock
