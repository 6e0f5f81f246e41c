"""Invariants of the package builder: the same content always builds to the same bytes, however
it was published, and no byte string read as a ZIP escapes as anything but a PackageError.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfsync.errors import PackageError
from sfsync.package.build import BuildOptions, build_package
from sfsync.package.limits import PackageLimits
from sfsync.package.manifest import MANIFEST_NAME
from sfsync.package.paths import collision_key, is_junk
from sfsync.package.read import PublishedPackage, read_tree, read_zip_bytes
from sfsync.package.zipwrite import (
    MemberRun,
    ZipMember,
    move_central,
    write_zip,
    zip_pieces,
    zip_pieces_shared,
    zip_size,
)

LIMITS = PackageLimits()
SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.\u00e9", min_size=1, max_size=8)
PATH = st.lists(SEGMENT, min_size=1, max_size=3).map("/".join)
JSON_SCALAR = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8)
OVERRIDES = st.dictionaries(
    st.sampled_from(["active", "power", "goals", "appType"]),
    JSON_SCALAR | st.dictionaries(st.sampled_from(["fingers", "hold"]), JSON_SCALAR, max_size=2),
    max_size=3,
)
DOS_DATE_TIME = st.tuples(
    st.integers(1980, 2100),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 29).map(lambda half: half * 2),
)


def acceptable(files: dict[str, bytes]) -> bool:
    """Return whether a generated file set is a valid package (no junk, clash or reserved name)."""
    segments_ok = all(segment not in {".", ".."} for path in files for segment in path.split("/"))
    if not segments_ok or any(is_junk(path) for path in files):
        return False
    keys = {collision_key(path) for path in files}
    if len(keys) != len(files) or collision_key(MANIFEST_NAME) in keys:
        return False
    folders = {path.rsplit("/", depth)[0] for path in keys for depth in range(1, 3) if "/" in path}
    return not keys & folders


FILES = st.dictionaries(PATH, st.binary(max_size=2000), min_size=1, max_size=10).filter(acceptable)


def options(overrides=None) -> BuildOptions:
    """Return build options with the given overrides."""
    return BuildOptions(
        connector="lightning/sandbox",
        overrides=overrides or {},
        source_version="etag",
        sfsync_version="0.1.0",
    )


def build(files: dict[str, bytes], overrides=None) -> bytes:
    """Return the bytes built from the given files."""
    return build_package(PublishedPackage(files=files, origin="p"), options(overrides)).data


@settings(max_examples=60, deadline=None)
@given(files=FILES, overrides=OVERRIDES)
def test_building_twice_gives_identical_bytes(files, overrides):
    """Two builds of the same package and options are byte-identical."""
    files = {**files, "settings.json": b'{"active": true, "power": {"fingers": 3}}'}
    assert build(files, overrides) == build(dict(files), overrides)


@settings(max_examples=60, deadline=None)
@given(files=FILES, data=st.data())
def test_zip_in_any_order_with_any_mtimes_and_modes_builds_the_same(files, data):
    """A ZIP of the same files in any order, dates, modes and compression builds identically."""
    order = data.draw(st.permutations(sorted(files)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=data.draw(DOS_DATE_TIME))
            info.external_attr = (0o100000 | data.draw(st.integers(0, 0o777))) << 16
            info.compress_type = data.draw(
                st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
            )
            archive.writestr(info, files[name])
    published = read_zip_bytes(buffer.getvalue(), "p.zip", LIMITS)
    assert build(dict(published.files)) == build(files)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=FILES, data=st.data())
def test_unpacked_tree_builds_the_same_as_the_zip(files, data):
    """The same files unpacked into a directory, with any mtimes and modes, build identically."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files, reverse=True):
            archive.writestr(name, files[name])
    from_zip = read_zip_bytes(buffer.getvalue(), "p.zip", LIMITS)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            moment = data.draw(st.integers(0, 2**31))
            os.utime(path, (moment, moment))
            path.chmod(data.draw(st.sampled_from([0o400, 0o444, 0o600, 0o644, 0o755])))
        from_tree = read_tree(root, LIMITS)
    assert build(dict(from_tree.files)) == build(dict(from_zip.files))


def refusal(raw: bytes, origin: str) -> str | None:
    """Return the refusal message for raw read as a ZIP, or None if it reads."""
    try:
        read_zip_bytes(raw, origin, LIMITS)
    except PackageError as error:
        return str(error)
    return None


def valid_zip(files: dict[str, bytes]) -> bytes:
    """Return a ZIP of the given files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def mutated(data: st.DataObject) -> bytes:
    """Draw a valid ZIP with some bytes overwritten and possibly cut short."""
    original = bytearray(valid_zip(data.draw(FILES)))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    return bytes(original[: data.draw(st.integers(0, len(original)))])


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=400))
def test_random_bytes_raise_only_package_errors(raw):
    """Any byte string read as a ZIP either reads or raises a PackageError subclass."""
    message = refusal(raw, "random")
    assert message is None or "\n" not in message


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_damaged_zips_raise_only_package_errors(data):
    """A valid ZIP with bytes overwritten or cut off either reads or raises a PackageError."""
    message = refusal(mutated(data), "damaged")
    assert message is None or "\n" not in message


@settings(max_examples=100, deadline=None)
@given(prefix=st.binary(max_size=64), data=st.data())
def test_zip_structures_after_random_prefixes_raise_only_package_errors(prefix, data):
    """Random bytes before and around ZIP signatures never escape as anything else."""
    signature = data.draw(st.sampled_from([b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"]))
    raw = prefix + signature + data.draw(st.binary(max_size=64)) + b"PK\x05\x06" + bytes(18)
    message = refusal(raw, "crafted")
    assert message is None or "\n" not in message


MEMBER = st.builds(
    ZipMember,
    name=st.text(alphabet="abcé/._", min_size=1, max_size=12),
    crc=st.integers(0, 2**32 - 1),
    size=st.integers(0, 10_000),
    compressed=st.binary(max_size=64),
)


@given(members=st.lists(MEMBER, max_size=12), data=st.data())
def test_runs_of_members_write_the_bytes_members_do(members, data):
    """However members are grouped into runs (a run anywhere, its offsets moved), the ZIP is
    byte for byte the one written member by member, and `zip_size` says its length.
    """
    cuts = sorted(data.draw(st.sets(st.integers(0, len(members)), max_size=4)))
    parts: list[ZipMember | MemberRun] = []
    start = 0
    for cut in [*cuts, len(members)]:
        group = members[start:cut]
        if data.draw(st.booleans()) and group:
            parts.append(MemberRun.of(group))
        else:
            parts.extend(group)
        start = cut
    written = write_zip(parts, "/p.zip")
    assert written == write_zip(members, "/p.zip")
    assert len(written) == zip_size(parts) == zip_size(members)
    # The pieces a push sends join into that ZIP, and each run's block is the run's own bytes
    # (shared by every ZIP the run goes into), not a copy.
    pieces, shared = zip_pieces_shared(parts, "/p.zip")
    assert pieces == zip_pieces(parts, "/p.zip")
    assert b"".join(pieces) == written
    runs = [part for part in parts if isinstance(part, MemberRun)]
    assert all(any(piece is run.local for piece in pieces) for run in runs)
    # Each run gives two pieces made from shared bytes, its local block and its central
    # records: the bytes themselves, or (a run after the first byte) the records moved by
    # where the run starts. A kept build keeps the bytes once and moves them back on load.
    assert len(shared) == 2 * len(runs)
    for piece in shared:
        assert piece.sha256 == hashlib.sha256(piece.base).hexdigest()
        if piece.shift:
            assert move_central(piece.base, piece.shift) == pieces[piece.index]
        else:
            assert piece.base is pieces[piece.index]
