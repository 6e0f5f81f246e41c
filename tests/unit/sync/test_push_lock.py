"""A connector's push lock: exclusive between processes and threads, and the same lock as the
filelock one earlier versions took.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from sfsync.sync.push_lock import PushLock, PushLockBusy


def test_one_holder_at_a_time(tmp_path: Path) -> None:
    """A second holder is refused at once while the first holds it, and admitted after."""
    path = tmp_path / "env.push.lock"
    with PushLock(path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with pytest.raises(PushLockBusy, match=r"env\.push\.lock"):
            PushLock(path).acquire()
    with PushLock(path) as again:
        assert again.path == path


def test_a_wait_ends_when_the_holder_lets_go(tmp_path: Path) -> None:
    """`acquire(timeout)` waits for the holder and gets the lock once it is let go; without
    enough time it gives up after about that time.
    """
    path = tmp_path / "env.push.lock"
    holder = PushLock(path).acquire()
    started = time.monotonic()
    with pytest.raises(PushLockBusy):
        PushLock(path).acquire(timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 2
    threading.Timer(0.2, holder.release).start()
    with PushLock(path).acquire(timeout=5):
        assert time.monotonic() - started >= 0.4
    holder.release()  # a second release does nothing


def test_it_is_the_lock_filelock_takes_across_processes(tmp_path: Path) -> None:
    """A process holding the file through filelock (an earlier sfsync) keeps the push out, and
    a push holding it keeps filelock out.
    """
    path = tmp_path / "env.push.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, filelock; lock = filelock.FileLock(sys.argv[1]); lock.acquire(); "
                "print('held', flush=True); sys.stdin.read()"
            ),
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(PushLockBusy):
            PushLock(path).acquire()
    finally:
        holder.communicate("")
    with PushLock(path), pytest.raises(Timeout):
        FileLock(str(path), timeout=0).acquire()


def test_a_link_in_place_of_the_lock_file_is_refused(tmp_path: Path) -> None:
    """The lock file is never reached through a symbolic link."""
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    path = tmp_path / "env.push.lock"
    path.symlink_to(target)
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        PushLock(path).acquire()
