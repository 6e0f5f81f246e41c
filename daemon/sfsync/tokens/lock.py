"""One lock, a file in the state dir, around every keyring read and write sfsync makes.

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

from sfsync.errors import TokenStoreError
from sfsync.files import make_private_directories

LOCK_NAME = "keyring.lock"


def keyring_lock_path(state_dir: Path) -> Path:
    """Given the state dir, return the keyring's lock file."""
    return state_dir / LOCK_NAME


@contextmanager
def keyring_lock(path: Path | None) -> Iterator[None]:
    """Hold the keyring lock at `path` (blocking until it is free); no lock if None.

    Raise TokenStoreError if the lock file cannot be created.
    """
    if path is None:
        yield
        return
    try:
        make_private_directories(path.parent)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise TokenStoreError(
            f"{path}: cannot open the keyring lock: {error.strerror}; check that the state "
            "directory is writable by this user"
        ) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock
