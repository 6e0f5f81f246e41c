"""Writing files so that no reader ever sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """Given a destination, bytes and an optional mode, write them to a temp file beside the
    destination, flush it to disk and rename it into place.

    Raise OSError if the disk refuses; no temp file is left behind either way.
    """
    directory = path.parent if str(path.parent) else Path()
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            Path(temporary).chmod(mode)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def make_private_directories(path: Path) -> None:
    """Given a folder, create it and every missing parent with mode 0700 (mkdir's `mode`
    covers only the last one, leaving the parents to the umask).

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
