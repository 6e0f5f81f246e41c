"""One `sfsync run` per state_dir: an exclusive, non-blocking flock on `daemon.lock` in it,
holding the holder's pid, taken before the scheduler starts, a port is bound or systemd is told
anything. The kernel drops the lock when the process ends, however it ends.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sfsync.errors import StateDirectoryError, StateDirectoryHeldError, describe_os_error
from sfsync.locks import daemon_lock_path
from sfsync.state.store import make_state_directory


class StateDirectoryHold:
    """The held lock on a state_dir; `release` (or the process ending) lets another run in."""

    def __init__(self, state_dir: Path, descriptor: int) -> None:
        self.state_dir = state_dir
        self._descriptor: int | None = descriptor

    @classmethod
    def take(cls, state_dir: Path, pid: int | None = None) -> StateDirectoryHold:
        """Given a state_dir (and this process's pid, by default the real one), lock it and
        write the pid into the lock file; return the hold.

        Raise StateDirectoryHeldError naming the holder's pid if another process holds it, and
        StateDirectoryError if the lock file cannot be created.
        """
        make_state_directory(state_dir)
        path = daemon_lock_path(state_dir)
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise StateDirectoryError(describe_os_error(path, error, "create the lock")) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(descriptor)
            os.close(descriptor)
            who = f"pid {holder}" if holder else "another process (pid not written yet)"
            raise StateDirectoryHeldError(
                f"state_dir {state_dir} is held by another `sfsync run` ({who}, lock {path}); "
                "stop that one first, or give this one its own [daemon] state_dir"
            ) from None
        except OSError as error:
            os.close(descriptor)
            raise StateDirectoryError(describe_os_error(path, error, "lock it")) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid() if pid is None else pid}\n".encode(), 0)
        return cls(state_dir, descriptor)

    def release(self) -> None:
        """Let go of the state_dir (the pid stays in the file; only the lock means anything)."""
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing drops the flock
            self._descriptor = None


def _read_pid(descriptor: int) -> int | None:
    """Return the pid the lock file holds, or None if it holds none yet."""
    text = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None
