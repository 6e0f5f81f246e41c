"""Writing files so that no reader ever sees half of one, and opening files that someone else
may be changing under us without following them anywhere.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

# Opening a file another user can write (a drop folder, a package, the cache): O_NOFOLLOW
# refuses a symbolic link as the last component instead of following it, O_NONBLOCK keeps a
# FIFO swapped in from blocking the open (it changes nothing for the regular file that is then
# required), and O_NOCTTY keeps a terminal device from becoming ours.
READ_NOFOLLOW = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
)
# Opening a folder to walk it by descriptor: anything but a real directory is refused.
DIRECTORY_NOFOLLOW = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
SPECIAL_FILE_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def file_kind(mode: int) -> str:
    """Given a `st_mode` (or a ZIP entry's Unix mode), return what it is as words to follow
    "is": "a symbolic link", "a FIFO", ..., "a special file" for a kind without a name.
    """
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return SPECIAL_FILE_KINDS.get(stat.S_IFMT(mode), "a special file")


def write_atomically(path: Path, data: bytes | Sequence[bytes], mode: int | None = None) -> None:
    """Given a destination, bytes (or pieces to write one after another) and an optional mode,
    write them to a temp file beside the destination, flush it to disk and rename it into
    place.

    Raise OSError if the disk refuses; no temp file is left behind either way.
    """
    directory = path.parent if str(path.parent) else Path()
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            if isinstance(data, bytes):
                stream.write(data)
            else:
                stream.writelines(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            Path(temporary).chmod(mode)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def make_private_directories(path: Path, *, tighten: bool = False) -> None:
    """Given a folder, create it and every missing parent with mode 0700 (mkdir's `mode`
    covers only the last one, leaving the parents to the umask); with `tighten`, make the folder
    0700 also if it was there already (a folder only sfsync uses, such as the state_dir, which
    an operator may have created loose; never one the user chose, which may be shared).

    Raise OSError if the disk refuses.
    """
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)
    if tighten and not missing:
        path.chmod(0o700)
