"""Kept builds on disk: private, atomic, found by hash prefix, pruned to what is kept."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import time
from pathlib import Path

import pytest

from sfsync.errors import StateError, UsageError
from sfsync.package.build import BuildOptions, build_prepared, prepare_package
from sfsync.package.read import PublishedPackage
from sfsync.package.zipwrite import SharedPiece, move_central
from sfsync.state import packages
from sfsync.state.kept_layout import decode_layout, encode_layout, plan_parts
from sfsync.state.packages import PackageArchive

CONNECTOR = "lightning/sandbox"


def test_saved_build_is_private_and_loadable(tmp_path: Path) -> None:
    """A kept build is 0600 in 0700 folders and reads back byte for byte."""
    archive = PackageArchive(tmp_path)
    path = archive.save(CONNECTOR, "ab" * 32, b"zip bytes")
    assert archive.load(CONNECTOR, "ab" * 32) == b"zip bytes"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (tmp_path / "packages", path.parent.parent, path.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [item.name for item in path.parent.iterdir()] == [path.name], "no temp file left"


def test_a_build_saved_from_pieces_is_kept_as_their_join(tmp_path: Path) -> None:
    """A build handed over as pieces (as a push hands it) is kept as the ZIP they join into."""
    archive = PackageArchive(tmp_path)
    pieces = (b"PK\x03\x04", b"", b"member " * 1000, b"central", b"end")
    archive.save(CONNECTOR, "cd" * 32, pieces)
    assert archive.load(CONNECTOR, "cd" * 32) == b"".join(pieces)


def test_prefix_resolution(tmp_path: Path) -> None:
    """A hash prefix finds exactly one kept build, or says why not."""
    archive = PackageArchive(tmp_path)
    archive.save(CONNECTOR, "abc1" + "0" * 60, b"1")
    archive.save(CONNECTOR, "abc2" + "0" * 60, b"2")
    assert archive.resolve_prefix(CONNECTOR, "ABC1") == "abc1" + "0" * 60
    with pytest.raises(UsageError, match="2 kept builds start with 'abc'"):
        archive.resolve_prefix(CONNECTOR, "abc")
    with pytest.raises(UsageError, match="no kept build starts with 'ffff'"):
        archive.resolve_prefix(CONNECTOR, "ffff")


def test_prune_keeps_only_what_is_asked(tmp_path: Path) -> None:
    """Pruning removes every kept build not in the keep set, and only those."""
    archive = PackageArchive(tmp_path)
    for letter in "abc":
        archive.save(CONNECTOR, letter * 64, letter.encode())
    removed = archive.prune(CONNECTOR, keep={"a" * 64, "c" * 64})
    assert removed == ["b" * 64]
    assert archive.kept(CONNECTOR) == ["a" * 64, "c" * 64]


def test_missing_build_is_a_state_error(tmp_path: Path) -> None:
    """Loading a build that is not kept names its path."""
    with pytest.raises(StateError, match="cannot be read"):
        PackageArchive(tmp_path).load(CONNECTOR, "f" * 64)


def _shared_build(
    own: bytes, block: bytes
) -> tuple[str, tuple[bytes, ...], tuple[SharedPiece, ...]]:
    pieces = (b"PK\x03\x04" + own, block, b"central " + own, b"end")
    sha = hashlib.sha256(b"".join(pieces)).hexdigest()
    return sha, pieces, (SharedPiece(1, hashlib.sha256(block).hexdigest(), block),)


BLOCK = bytes(range(256)) * 400  # 100 KiB: a run of published members


def test_builds_sharing_a_block_keep_it_once(tmp_path: Path) -> None:
    """Two connectors' builds of one publish keep the block they share as one file, linked
    from each; each reads back byte for byte; pruning lets the block go with its last build.
    """
    archive = PackageArchive(tmp_path)
    one = _shared_build(b"one", BLOCK)
    other = _shared_build(b"other", BLOCK)
    first = archive.save(CONNECTOR, one[0], one[1], one[2])
    second = archive.save("lightning/production", other[0], other[1], other[2])
    assert first.name == f"{one[0]}.build"
    assert second.name == f"{other[0]}.build"
    blocks = list((tmp_path / "packages" / "_blocks").iterdir())
    assert [block.name for block in blocks] == [one[2][0].sha256]
    assert blocks[0].stat().st_nlink == 3  # its own name and one link per kept build
    assert (first / one[2][0].sha256).stat().st_ino == blocks[0].stat().st_ino
    assert stat.S_IMODE(blocks[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((first / "layout").stat().st_mode) == 0o600
    assert (first / "layout").stat().st_size < 200  # the build's own bytes, not the block
    assert archive.load(CONNECTOR, one[0]) == b"".join(one[1])
    assert archive.load("lightning/production", other[0]) == b"".join(other[1])
    assert archive.kept(CONNECTOR) == [one[0]]
    assert archive.path(CONNECTOR, one[0]) == first
    assert archive.save(CONNECTOR, one[0], one[1], one[2]) == first  # kept already

    assert archive.prune(CONNECTOR, keep=set()) == [one[0]]
    assert blocks[0].stat().st_nlink == 2
    assert archive.load("lightning/production", other[0]) == b"".join(other[1])
    assert archive.prune("lightning/production", keep=set()) == [other[0]]
    assert list((tmp_path / "packages" / "_blocks").iterdir()) == []
    assert list(first.parent.iterdir()) == []
    assert list(second.parent.iterdir()) == []


def test_a_damaged_kept_build_is_refused(tmp_path: Path) -> None:
    """A block changed on disk after it was kept fails the build's hash: never pushed back."""
    archive = PackageArchive(tmp_path)
    sha, pieces, shared = _shared_build(b"one", BLOCK)
    archive.save(CONNECTOR, sha, pieces, shared)
    block = tmp_path / "packages" / "_blocks" / shared[0].sha256
    with block.open("r+b") as stream:  # in place: the kept build's link sees it too
        stream.write(b"X")
    with pytest.raises(StateError, match="is damaged: its bytes no longer hash to its name"):
        archive.load(CONNECTOR, sha)
    (archive.path(CONNECTOR, sha) / "layout").write_bytes(b"garbage")
    with pytest.raises(StateError, match="is damaged: not a kept-build layout"):
        archive.load(CONNECTOR, sha)


def test_without_hard_links_a_build_is_kept_as_a_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a file system that refuses hard links the build is kept whole, and nothing of the
    attempt is left behind.
    """

    def refuse(*_args: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    archive = PackageArchive(tmp_path)
    sha, pieces, shared = _shared_build(b"one", BLOCK)
    path = archive.save(CONNECTOR, sha, pieces, shared)
    assert path.name == f"{sha}.zip"
    assert archive.load(CONNECTOR, sha) == b"".join(pieces)
    assert [item.name for item in path.parent.iterdir()] == [path.name]


def test_a_block_removed_meanwhile_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block whose last other build is pruned between the check and the link (another
    thread or process) is written again, and the build is whole.
    """
    archive = PackageArchive(tmp_path)
    sha, pieces, shared = _shared_build(b"one", BLOCK)
    block = tmp_path / "packages" / "_blocks" / shared[0].sha256
    link = os.link
    calls = []

    def racing(source: Path, target: Path) -> None:
        calls.append(target)
        if len(calls) == 1:
            Path(source).unlink()  # the other build's prune wins the race
        link(source, target)

    monkeypatch.setattr(os, "link", racing)
    archive.save(CONNECTOR, sha, pieces, shared)
    assert len(calls) == 2
    assert block.stat().st_nlink == 2
    assert archive.load(CONNECTOR, sha) == b"".join(pieces)


def test_small_shared_pieces_stay_in_a_zip(tmp_path: Path) -> None:
    """A shared run too small to be worth a file of its own leaves the build a plain ZIP."""
    archive = PackageArchive(tmp_path)
    sha, pieces, shared = _shared_build(b"one", b"PK\x03\x04 small run")
    assert archive.save(CONNECTOR, sha, pieces, shared).name == f"{sha}.zip"
    assert not (tmp_path / "packages" / "_blocks").exists()


def test_leftovers_of_a_crash_are_swept_once_old(tmp_path: Path) -> None:
    """What a save or prune cut short left (a staging folder, a half-emptied build, a block no
    build links) is removed by a later prune once an hour old, and not before.
    """
    archive = PackageArchive(tmp_path)
    sha, pieces, shared = _shared_build(b"one", BLOCK)
    kept = archive.save(CONNECTOR, sha, pieces, shared)
    folder = kept.parent
    blocks = tmp_path / "packages" / "_blocks"
    staging = folder / f".{'e' * 64}.build.x.tmp"
    staging.mkdir()
    (staging / "layout").write_bytes(b"half")
    orphan = blocks / ("f" * 64)
    orphan.write_bytes(b"no build links me")
    dropping = folder / f".{'d' * 64}.build.1.2.drop"
    dropping.mkdir()
    os.link(blocks / shared[0].sha256, dropping / shared[0].sha256)
    young = blocks / ("9" * 64)
    young.write_bytes(b"a save is about to link me")
    old = time.time() - 2 * 3600
    for path in (staging, orphan, dropping):
        os.utime(path, (old, old))

    archive.prune(CONNECTOR, keep={sha})
    assert sorted(item.name for item in folder.iterdir()) == [kept.name]
    assert sorted(item.name for item in blocks.iterdir()) == sorted([shared[0].sha256, young.name])
    assert (blocks / shared[0].sha256).stat().st_nlink == 2  # the kept build's link only
    assert archive.load(CONNECTOR, sha) == b"".join(pieces)


def test_layout_round_trip_and_refusals() -> None:
    """A layout reads back as the parts it was written from; a cut or altered one is refused."""
    pieces = (b"own-1", BLOCK, b"own-2", b"own-3", BLOCK[:70000], b"")
    parts = plan_parts(
        pieces, {1: SharedPiece(1, "a" * 64, BLOCK), 4: SharedPiece(4, "b" * 64, BLOCK[:70000])}
    )
    assert [(part.block, part.size) for part in parts] == [
        (None, 5),
        ("a" * 64, len(BLOCK)),
        (None, 10),
        ("b" * 64, 70000),
    ]
    data = b"".join(encode_layout(parts))
    decoded, own = decode_layout(data)
    assert [(part.block, part.size) for part in decoded] == [
        (part.block, part.size) for part in parts
    ]
    moved = plan_parts((b"own", BLOCK), {1: SharedPiece(1, "c" * 64, BLOCK, shift=1604)})
    assert [(part.block, part.moved) for part in moved] == [(None, 0), ("c" * 64, 1604)]
    assert moved[1].pieces == (BLOCK,)  # the block is kept as made, not as moved
    layout = b"".join(encode_layout(moved))
    assert f"block {'c' * 64} {len(BLOCK)} moved 1604\n".encode() in layout
    assert [(part.block, part.moved) for part in decode_layout(layout)[0]] == [
        (None, 0),
        ("c" * 64, 1604),
    ]
    assert own == b"own-1own-2own-3"
    for damaged, reason in (
        (data[:-1], "14 bytes of its own where the parts say 15"),
        (data.replace(b"own 5", b"own x"), "unreadable part line"),
        (b"PK\x03\x04", "not a kept-build layout"),
        (data[: data.index(b"\n\n")], "part list does not end"),
    ):
        with pytest.raises(ValueError, match=reason):
            decode_layout(damaged)


def test_a_cleared_archive_folder_is_made_again(tmp_path: Path) -> None:
    """An archive whose folders were removed while it ran (an operator clearing packages/)
    keeps the next build anyway, in 0700 folders.
    """
    archive = PackageArchive(tmp_path)
    sha, pieces, shared = _shared_build(b"one", BLOCK)
    archive.save(CONNECTOR, sha, pieces, shared)
    shutil.rmtree(tmp_path / "packages")
    other = _shared_build(b"two", BLOCK)
    path = archive.save(CONNECTOR, other[0], other[1], other[2])
    assert archive.load(CONNECTOR, other[0]) == b"".join(other[1])
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "packages" / "_blocks").stat().st_mode) == 0o700


def test_a_disk_that_refuses_is_a_state_error_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while keeping a build is one StateError naming the build and the file."""

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.tmp"))

    monkeypatch.setattr(packages, "write_atomically", full)
    archive = PackageArchive(tmp_path)
    with pytest.raises(StateError) as caught:
        archive.save(CONNECTOR, "ab" * 32, b"zip bytes")
    assert str(caught.value) == (
        f"cannot keep build abababababab of {CONNECTOR} ({tmp_path / 'x.tmp'}): "
        "No space left on device"
    )


def test_a_system_named_blocks_keeps_its_builds_apart_from_the_blocks(tmp_path: Path) -> None:
    """The shared blocks' folder is a name no system can have, so a system called "blocks"
    keeps and prunes its builds like any other.
    """
    archive = PackageArchive(tmp_path)
    mine = _shared_build(b"one", BLOCK)
    theirs = _shared_build(b"two", BLOCK)
    archive.save("blocks/sandbox", mine[0], mine[1], mine[2])
    archive.save(CONNECTOR, theirs[0], theirs[1], theirs[2])
    assert archive.kept("blocks/sandbox") == [mine[0]]
    assert archive.prune("blocks/sandbox", keep=set()) == [mine[0]]
    assert archive.load(CONNECTOR, theirs[0]) == b"".join(theirs[1])


def test_a_real_builds_central_records_are_shared_and_moved_back(tmp_path: Path) -> None:
    """Builds of one publish with many files keep their central records once, as a block:
    each build's layout holds only its own few bytes, loads back byte for byte (its records
    moved behind its own settings), and a damaged block is refused, never pushed.
    """
    # Most files sort after settings.json: their run starts further in for a connector
    # whose settings are longer, so its central records are moved.
    files = {f"widgets/lib/{n:04d}/module.js": b"x%d" % n for n in range(1200)}
    files.update({"assets/a.css": b"a{}", "settings.json": b"{}"})
    prepared = prepare_package(PublishedPackage(files=files, origin="/srv/pub/p.zip"))
    archive = PackageArchive(tmp_path, move=move_central)
    builds = {}
    for connector, overrides in ((CONNECTOR, {}), ("lightning/production", {"x": "y" * 300})):
        options = BuildOptions(
            connector=connector, overrides=overrides, source_version="v1", sfsync_version="t"
        )
        built = build_prepared(prepared, options)
        assert any(piece.shift for piece in built.shared)  # the run after settings.json
        kept = archive.save(connector, built.sha256, built.pieces, built.shared)
        assert kept.suffix == ".build"
        assert (kept / "layout").stat().st_size < 4_000  # of a ZIP of about 170 KB
        builds[connector] = built
    blocks = sorted((tmp_path / "packages" / "_blocks").iterdir())
    central = {piece.sha256 for piece in builds[CONNECTOR].shared if piece.shift}
    assert central <= {block.name for block in blocks}
    assert all(block.stat().st_nlink == 3 for block in blocks)  # both builds link each
    for connector, built in builds.items():
        assert archive.load(connector, built.sha256) == built.data
    # An archive opened without the package's way to move records (to list or prune) says so.
    with pytest.raises(StateError, match="nothing given to move its records"):
        PackageArchive(tmp_path).load(CONNECTOR, builds[CONNECTOR].sha256)
    (central_block,) = central
    with (tmp_path / "packages" / "_blocks" / central_block).open("r+b") as stream:
        stream.write(b"XX")  # its first record's signature
    with pytest.raises(StateError, match="is damaged: no central record at byte 0"):
        archive.load(CONNECTOR, builds[CONNECTOR].sha256)


def test_a_block_at_the_link_limit_is_copied_and_each_copy_pruned_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block with as many links as the file system allows (ext4: 65,000; two here) gets a
    copy that takes the next builds' links. Every build stays a `.build` and loads back; a copy
    goes with its last build; with every copy full, a build is kept as a plain ZIP.
    """
    link = os.link

    def capped(source: Path, target: Path) -> None:
        if Path(source).stat().st_nlink >= 3:  # its own name and two builds
            raise OSError(errno.EMLINK, "Too many links", str(source))
        link(source, target)

    monkeypatch.setattr(os, "link", capped)
    archive = PackageArchive(tmp_path)
    builds = {f"lightning/env{n}": _shared_build(b"own %d" % n, BLOCK) for n in range(5)}
    for connector, (sha, pieces, shared) in builds.items():
        assert archive.save(connector, sha, pieces, shared).suffix == ".build"
    block = next(iter(builds.values()))[2][0].sha256
    blocks = tmp_path / "packages" / "_blocks"
    assert sorted(item.name for item in blocks.iterdir()) == [block, f"{block}.1", f"{block}.2"]
    assert [(blocks / name).stat().st_nlink for name in (block, f"{block}.1", f"{block}.2")] == [
        3,
        3,
        2,
    ]
    assert (archive.path("lightning/env2", builds["lightning/env2"][0]) / f"{block}.1").exists()
    for connector, (sha, pieces, _shared) in builds.items():
        assert archive.load(connector, sha) == b"".join(pieces)

    for connector in ("lightning/env2", "lightning/env3"):  # the two builds linking copy 1
        archive.prune(connector, keep=set())
    assert sorted(item.name for item in blocks.iterdir()) == [block, f"{block}.2"]
    assert archive.load("lightning/env4", builds["lightning/env4"][0]) == b"".join(
        builds["lightning/env4"][1]
    )

    monkeypatch.setattr(packages, "_MAX_BLOCK_COPIES", 1)
    sha, pieces, shared = _shared_build(b"own 9", BLOCK)
    assert archive.save("lightning/env9", sha, pieces, shared).suffix == ".zip"
    assert archive.load("lightning/env9", sha) == b"".join(pieces)
