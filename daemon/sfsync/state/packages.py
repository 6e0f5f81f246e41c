"""Built packages kept on disk by hash, per connector, for rollback and verify (SPEC section 9).

A build is kept as `packages/<system>/<environment>/<sha256>.build/`: a `layout` file with the
build's own bytes (its settings, manifest and their central records) and a hard link to each
block it shares with other builds, kept once under `packages/_blocks/<sha256>`: the runs of
published files every connector of a publish has in common, and their central records (with
the offsets they have where the run starts the ZIP; the layout says how far to move them).
A block's link count is its reference count: the last kept build to let go of it removes it.
Keeping a whole ZIP per connector wrote the package's size to disk and flushed it for every
push (2.6 ms of CPU a 2 MB push), and kept keep_packages + 1 copies of it per connector (227 GB
for 10,000 connectors of a 2 MB package, est.). A build with nothing shared, one kept by an
earlier version, or one on a file system without hard links is a plain `<sha256>.zip`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Sequence
from pathlib import Path

from sfsync.errors import StateError, UsageError
from sfsync.files import write_atomically
from sfsync.state.kept_layout import (
    KeptPart,
    MoveRecords,
    SharedBytes,
    decode_layout,
    encode_layout,
    plan_parts,
)
from sfsync.state.store import make_state_directory

_FILE_MODE = 0o600
_LAYOUT = "layout"
_PARTS = ".build"
_ZIP = ".zip"
# Leftovers of a save or a prune cut short (a crash, a full disk) are removed once this old:
# no save or prune takes that long, so they are nobody's work in progress.
_LEFTOVER_SECONDS = 3600.0
# Copies of one block, each taking up to the file system's links to one file, before a build
# is kept as a plain ZIP: with ext4's 65,000, over four million kept builds share a block.
_MAX_BLOCK_COPIES = 64
# A file system that refuses hard links: the build is kept as a plain ZIP instead.
_NO_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


class PackageArchive:
    """Kept builds under `packages/` in the state directory (see the module's text)."""

    def __init__(self, state_dir: Path, move: MoveRecords | None = None) -> None:
        """Given the state directory and how to move a block's records (what loading a build
        whose shared records were moved needs: `package.zipwrite.move_central`).
        """
        self.root = state_dir / "packages"
        self._move = move
        self.blocks = self.root / "_blocks"  # no system name starts with "_"
        self._swept_at: float | None = None

    def _folder(self, connector: str) -> Path:
        system, environment = connector.split("/", 1)
        return self.root / system / environment

    def _make_folders(self, *folders: Path) -> None:
        # One look when the folder is there (every push but a connector's first): making and
        # tightening the whole chain each time cost three stats and three chmods a push, and
        # remembering the folders made cost memory for every connector.
        for folder in folders:
            if not folder.is_dir():
                relative = folder.relative_to(self.root)
                for directory in (*reversed(relative.parents), relative):
                    make_state_directory(self.root / directory)

    def path(self, connector: str, sha256: str) -> Path:
        """Given a connector and a build's hash, return where that build is kept (its folder
        of parts, or its ZIP).
        """
        parts = self._folder(connector) / f"{sha256}{_PARTS}"
        return parts if parts.is_dir() else parts.with_suffix(_ZIP)

    def save(
        self,
        connector: str,
        sha256: str,
        data: bytes | Sequence[bytes],
        shared: Sequence[SharedBytes] = (),
    ) -> Path:
        """Given a connector, a build's hash, its bytes (or the pieces they join from) and the
        pieces other builds share, keep them (atomically, 0600); a build kept already is left
        as it is. Return where it is kept.

        Raise StateError naming the path if the disk refuses.
        """
        pieces = (data,) if isinstance(data, bytes) else tuple(data)
        parts = plan_parts(pieces, {piece.index: piece for piece in shared})
        try:
            return self._save(connector, sha256, pieces, parts)
        except OSError as error:
            where = error.filename or self._folder(connector)
            raise StateError(
                f"cannot keep build {sha256[:12]} of {connector} ({where}): {error.strerror}"
            ) from None

    def _save(
        self, connector: str, sha256: str, pieces: Sequence[bytes], parts: Sequence[KeptPart]
    ) -> Path:
        folder = self._folder(connector)
        target = folder / f"{sha256}{_PARTS}"
        self._make_folders(folder)
        if target.is_dir() or target.with_suffix(_ZIP).exists():
            return self.path(connector, sha256)
        if any(part.block is not None for part in parts):
            self._make_folders(self.blocks)
            try:
                self._save_parts(target, parts)
            except OSError as error:
                if error.errno not in _NO_LINKS:
                    raise
            else:
                return target
        target = target.with_suffix(_ZIP)
        write_atomically(target, pieces, _FILE_MODE)
        return target

    def _save_parts(self, target: Path, parts: Sequence[KeptPart]) -> None:
        # Made in a private folder beside the target and renamed into place whole, so a reader
        # finds the build complete or not at all.
        staging = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        )
        try:
            _write_new(staging / _LAYOUT, encode_layout(parts))
            linked: set[str] = set()
            for part in parts:
                if part.block is not None and part.block not in linked:
                    self._link_block(part, staging)
                    linked.add(part.block)
            # The folders are not flushed, as a ZIP's rename into place never was: each flush
            # cost more than the rest of the save. A build lost to a crash before the system
            # wrote them out fails `load` plainly, and the next publish keeps it again.
            try:
                staging.rename(target)
            except OSError as error:
                if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                shutil.rmtree(staging)  # another process kept the same build meanwhile
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _link_block(self, part: KeptPart, staging: Path) -> None:
        """Link a block into a build being made, writing the block first if no build has it.

        A file system caps the links to one file (ext4: 65,000). A block every connector of
        several publishes shares, 10,000 connectors keeping 11 builds each, would pass that:
        then the next copy of the block (`SHA256.1`, `SHA256.2`, ...) takes the links, and the
        build's link has the copy's name.
        """
        sha256 = str(part.block)
        for copy in range(_MAX_BLOCK_COPIES):
            name = sha256 if copy == 0 else f"{sha256}.{copy}"
            shared = self.blocks / name
            for _ in range(3):
                if not shared.exists():
                    write_atomically(shared, part.pieces, _FILE_MODE)
                try:
                    os.link(shared, staging / name)
                except FileNotFoundError:
                    continue  # its last other build was pruned between the two calls: write again
                except OSError as error:
                    if error.errno != errno.EMLINK:
                        raise
                    break  # this copy is full: the next one
                return
            else:
                raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), str(shared))
        raise OSError(errno.EMLINK, os.strerror(errno.EMLINK), str(self.blocks / sha256))

    def load(self, connector: str, sha256: str) -> bytes:
        """Given a connector and a build's full hash, return the kept bytes.

        Raise StateError if that build is not kept, or what is kept is not that build.
        """
        path = self.path(connector, sha256)
        try:
            if path.suffix == _ZIP:
                return path.read_bytes()
            data = b"".join(self._parts_of(path))
        except OSError as error:
            raise StateError(f"kept build {path} cannot be read: {error.strerror}") from None
        except ValueError as error:
            raise StateError(f"kept build {path} is damaged: {error}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StateError(f"kept build {path} is damaged: its bytes no longer hash to its name")
        return data

    def _parts_of(self, path: Path) -> list[bytes]:
        """Given a kept build's folder, return its parts' bytes in order; raise OSError or
        ValueError (a damaged layout or block) as reading them does.
        """
        parts, own = decode_layout((path / _LAYOUT).read_bytes())
        names = {entry.name for entry in _listing(path)}
        pieces: list[bytes] = []
        offset = 0
        for part in parts:
            if part.block is None:
                pieces.append(own[offset : offset + part.size])
                offset += part.size
                continue
            block = (path / _block_link(part.block, names)).read_bytes()
            if part.moved:
                if self._move is None:  # an archive opened to list or prune builds
                    raise StateError(f"kept build {path}: nothing given to move its records")
                block = self._move(block, part.moved)
            pieces.append(block)
        return pieces

    def kept(self, connector: str) -> list[str]:
        """Given a connector, return the hashes of its kept builds."""
        return _kept_in(_listing(self._folder(connector)))

    def resolve_prefix(self, connector: str, prefix: str) -> str:
        """Given a connector and the start of a build's hash, return the full hash.

        Raise UsageError if no kept build, or more than one, starts that way.
        """
        matches = [sha for sha in self.kept(connector) if sha.startswith(prefix.lower())]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UsageError(f"connector {connector}: no kept build starts with {prefix!r}")
        raise UsageError(
            f"connector {connector}: {len(matches)} kept builds start with {prefix!r}; "
            "give more of the hash"
        )

    def prune(self, connector: str, keep: Collection[str]) -> list[str]:
        """Given a connector and the hashes to keep, delete its other kept builds, and the
        blocks no kept build links any more; return the hashes deleted.

        Raise StateError naming the folder if the disk refuses.
        """
        removed = []
        folder = self._folder(connector)
        try:
            entries = _listing(folder)  # one look at the folder a push, for both jobs
            for sha256 in _kept_in(entries):
                if sha256 not in keep:
                    (folder / f"{sha256}{_ZIP}").unlink(missing_ok=True)
                    self._drop_parts(folder / f"{sha256}{_PARTS}")
                    removed.append(sha256)
            self._sweep([entry for entry in entries if entry.name.startswith(".")])
        except OSError as error:
            raise StateError(
                f"cannot prune the kept builds in {folder}: {error.strerror}"
            ) from None
        return removed

    def _drop_parts(self, build: Path) -> None:
        doomed = build.with_name(f".{build.name}.{os.getpid()}.{time.monotonic_ns()}.drop")
        try:
            build.rename(doomed)  # gone for readers at once, then emptied at leisure
        except FileNotFoundError:
            return
        self._empty(doomed)

    def _empty(self, doomed: Path) -> None:
        for entry in os.scandir(doomed):
            Path(entry.path).unlink(missing_ok=True)
            if entry.name != _LAYOUT:
                self._release_block(entry.name)
        doomed.rmdir()

    def _release_block(self, name: str) -> None:
        shared = self.blocks / name
        try:
            if shared.stat().st_nlink == 1:  # only its own name is left: no build keeps it
                shared.unlink(missing_ok=True)
        except FileNotFoundError:
            pass

    def _sweep(self, leftovers: Sequence[os.DirEntry[str]]) -> None:
        """Given the dot-entries of a connector's folder, remove those a save or prune cut
        short left behind; at most once an hour, also the blocks no build links.
        """
        cutoff = time.time() - _LEFTOVER_SECONDS
        for entry in leftovers:
            try:
                old = entry.stat(follow_symlinks=False).st_mtime < cutoff
            except FileNotFoundError:
                continue  # finished or removed since the folder was read
            if old:
                if entry.name.endswith(".drop") and entry.is_dir(follow_symlinks=False):
                    self._empty(Path(entry.path))
                elif entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    Path(entry.path).unlink(missing_ok=True)
        now = time.monotonic()
        if self._swept_at is not None and now - self._swept_at < _LEFTOVER_SECONDS:
            return
        self._swept_at = now
        for entry in os.scandir(self.blocks) if self.blocks.is_dir() else ():
            info = entry.stat(follow_symlinks=False)
            if info.st_mtime < cutoff and (entry.name.startswith(".") or info.st_nlink == 1):
                Path(entry.path).unlink(missing_ok=True)


def _block_link(sha256: str, names: Collection[str]) -> str:
    """Given a block's hash and the names in a kept build's folder, return the name of its
    link there: the hash, or the hash and the number of the copy it links (see `_link_block`).
    """
    if sha256 not in names:
        for name in names:
            if name.startswith(f"{sha256}."):
                return name
    return sha256  # reading it fails plainly if it is missing


def _listing(folder: Path) -> list[os.DirEntry[str]]:
    """Given a connector's folder, return its entries (none if it is not there yet)."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except FileNotFoundError:
        return []


def _kept_in(entries: Sequence[os.DirEntry[str]]) -> list[str]:
    """Given a connector folder's entries, return the hashes of its kept builds, sorted."""
    return sorted(
        {
            entry.name[: -len(suffix)]
            for entry in entries
            for suffix in (_PARTS, _ZIP)
            if entry.name.endswith(suffix) and not entry.name.startswith(".")
        }
    )


def _write_new(path: Path, pieces: Sequence[bytes]) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    with os.fdopen(descriptor, "wb") as stream:
        stream.writelines(pieces)
        stream.flush()
        os.fsync(stream.fileno())
