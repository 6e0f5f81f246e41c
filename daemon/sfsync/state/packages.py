"""Built packages kept on disk by hash, per connector, for rollback and verify (SPEC section 9)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from sfsync.errors import StateError, UsageError
from sfsync.files import write_atomically
from sfsync.state.store import make_state_directory

_FILE_MODE = 0o600


class PackageArchive:
    """Files `packages/<system>/<environment>/<sha256>.zip` under the state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "packages"

    def _folder(self, connector: str) -> Path:
        system, environment = connector.split("/", 1)
        return self.root / system / environment

    def path(self, connector: str, sha256: str) -> Path:
        """Given a connector and a build's hash, return where that build is kept."""
        return self._folder(connector) / f"{sha256}.zip"

    def save(self, connector: str, sha256: str, data: bytes | Sequence[bytes]) -> Path:
        """Given a connector, a build's hash and its bytes (or the pieces they join from), keep
        them (atomically, 0600).

        Raise StateError naming the path if the disk refuses.
        """
        folder = self._folder(connector)
        target = folder / f"{sha256}.zip"
        try:
            for directory in (self.root, self.root / connector.split("/", 1)[0], folder):
                make_state_directory(directory)
            if target.exists():
                return target
            write_atomically(target, data, _FILE_MODE)
        except OSError as error:
            raise StateError(f"cannot keep the build at {target}: {error.strerror}") from None
        return target

    def load(self, connector: str, sha256: str) -> bytes:
        """Given a connector and a build's full hash, return the kept bytes.

        Raise StateError if that build is not kept.
        """
        path = self.path(connector, sha256)
        try:
            return path.read_bytes()
        except OSError as error:
            raise StateError(f"kept build {path} cannot be read: {error.strerror}") from None

    def kept(self, connector: str) -> list[str]:
        """Given a connector, return the hashes of its kept builds."""
        folder = self._folder(connector)
        if not folder.is_dir():
            return []
        return sorted(path.stem for path in folder.glob("*.zip"))

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
        """Given a connector and the hashes to keep, delete its other kept builds; return them."""
        removed = []
        for sha256 in self.kept(connector):
            if sha256 not in keep:
                self.path(connector, sha256).unlink(missing_ok=True)
                removed.append(sha256)
        return removed
