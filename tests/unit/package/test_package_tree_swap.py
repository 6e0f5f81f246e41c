"""An unpacked package changed while it is read: whatever is swapped in between the folder
listing and the open is refused, never followed, and no descriptor is left open.

The swap is made deterministic by wrapping `os.scandir`: the first listing (the package root)
is read in full, each entry lstat'ed, and only then is the tree changed, which is exactly the
window a publisher racing the daemon aims for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from sfsync.errors import PackageError
from sfsync.package.errors import LinkOrSpecialFileError
from sfsync.package.limits import PackageLimits
from sfsync.package.read import read_package, read_tree

LIMITS = PackageLimits()
SECRET = b"hunter2-keyring-passphrase"


class _Listing:
    """What `os.scandir` returns, already read: usable with `with` and as an iterator."""

    def __init__(self, entries: list[os.DirEntry[str]]) -> None:
        self._entries = entries

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        return None

    def __iter__(self) -> Iterator[os.DirEntry[str]]:
        return iter(self._entries)

    def close(self) -> None:
        """Nothing to close: the listing was read in full."""


def swap_after_first_listing(monkeypatch: pytest.MonkeyPatch, swap: Callable[[], None]) -> None:
    """Make the first `os.scandir` call list and lstat everything, then run `swap`."""
    real_scandir = os.scandir
    swapped = False

    def scandir(target: object) -> object:
        nonlocal swapped
        with real_scandir(target) as scanned:  # type: ignore[call-overload]
            entries = list(scanned)
        for entry in entries:
            entry.stat(follow_symlinks=False)  # the check the reader makes, cached
        if not swapped:
            swapped = True
            swap()
        return _Listing(entries)

    monkeypatch.setattr(os, "scandir", scandir)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A package folder with a settings file and content/app.js, and a folder of secrets
    beside it (what the daemon's $CREDENTIALS_DIRECTORY looks like).
    """
    root = tmp_path / "drop" / "walkme"
    (root / "content").mkdir(parents=True)
    (root / "settings.json").write_text("{}")
    (root / "content" / "app.js").write_text("// app\n")
    secrets = tmp_path / "credentials"
    secrets.mkdir()
    (secrets / "keyring-passphrase").write_bytes(SECRET)
    (secrets / "app.js").write_bytes(SECRET)
    return root


def read_refusal(root: Path) -> PackageError | None:
    """Read the package; return its refusal, or None after checking no secret was read."""
    try:
        published = read_tree(root, LIMITS)
    except PackageError as error:
        return error
    assert all(SECRET not in content for content in published.files.values()), published.files
    return None


def test_subfolder_swapped_for_a_symlink_is_refused_naming_it(package, monkeypatch):
    """content/ replaced by a symlink to the credentials after the listing saw a folder: the
    read is refused naming 'content', and the secret is never read.
    """
    credentials = package.parents[1] / "credentials"

    def swap() -> None:
        (package / "content").rename(package.parent / "moved-away")
        (package / "content").symlink_to(credentials, target_is_directory=True)

    swap_after_first_listing(monkeypatch, swap)
    refusal = read_refusal(package)
    assert isinstance(refusal, LinkOrSpecialFileError), refusal
    assert refusal.entry == "content"
    assert "'content'" in str(refusal)
    assert "symbolic link" in str(refusal)


def test_subfolder_swapped_for_another_folder_is_refused_naming_it(package, monkeypatch):
    """content/ replaced by another real folder (renamed into place) after the listing: the
    inode differs from what was listed, so the read is refused naming 'content'.
    """
    credentials = package.parents[1] / "credentials"

    def swap() -> None:
        (package / "content").rename(package.parent / "moved-away")
        credentials.rename(package / "content")

    swap_after_first_listing(monkeypatch, swap)
    refusal = read_refusal(package)
    assert isinstance(refusal, LinkOrSpecialFileError), refusal
    assert refusal.entry == "content"
    assert "replaced" in str(refusal)


def test_file_swapped_for_another_file_is_refused_naming_it(package, monkeypatch):
    """settings.json replaced by another regular file after the listing: refused by inode,
    naming 'settings.json'.
    """
    secret = package.parents[1] / "credentials" / "keyring-passphrase"

    def swap() -> None:
        secret.rename(package / "settings.json")

    swap_after_first_listing(monkeypatch, swap)
    refusal = read_refusal(package)
    assert isinstance(refusal, LinkOrSpecialFileError), refusal
    assert refusal.entry == "settings.json"


def test_package_root_that_is_a_symlink_is_refused(package):
    """read_tree given a symlink to a folder refuses it rather than reading the target."""
    link = package.parent / "link-to-credentials"
    link.symlink_to(package.parents[1] / "credentials", target_is_directory=True)
    refusal = read_refusal(link)
    assert isinstance(refusal, LinkOrSpecialFileError), refusal
    assert "symbolic link" in str(refusal)


def open_descriptors() -> int:
    """Return how many descriptors this process has open."""
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_no_descriptor_is_left_open_after_a_read_or_a_refusal(package, monkeypatch):
    """Reading a nested tree, and a refusal deep inside one, leave no descriptor open."""
    deep = package / "content" / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "c.js").write_text("c")
    before = open_descriptors()
    read_package(package, LIMITS)
    assert open_descriptors() == before
    os.mkfifo(deep / "pipe")
    with pytest.raises(LinkOrSpecialFileError):
        read_package(package, LIMITS)
    assert open_descriptors() == before


def test_tree_nested_too_deep_is_refused(tmp_path):
    """A tree nested deeper than the walk holds descriptors for is refused, not walked."""
    root = tmp_path / "pkg"
    deep = root.joinpath(*["d"] * 70)
    deep.mkdir(parents=True)
    (deep / "x.js").write_text("x")
    with pytest.raises(PackageError, match="nested more than 64 levels"):
        read_tree(root, LIMITS)
