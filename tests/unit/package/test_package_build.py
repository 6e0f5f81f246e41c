"""Building a connector's ZIP: deterministic bytes, a ZIP every reader accepts, settings and
manifest as promised.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import threading
import time
import zipfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sfsync.package.build import (
    BuildOptions,
    build_package,
    build_prepared,
    prepare_package,
)
from sfsync.package.limits import PackageLimits
from sfsync.package.manifest import MANIFEST_NAME, content_hash
from sfsync.package.read import PublishedPackage, read_zip_bytes
from sfsync.package.zipwrite import MemberRun, ZipMember, move_central

SETTINGS = b'{"goals": {"rule": "a"},\n  "power": {"fingers": 3, "hold": 2}, "active": true}'
FILES = {
    "settings.json": SETTINGS,
    "lib/app.js": b"console.log('walkme');\n" * 200,
    "lib/\u00e9l\u00e8ve.css": b"body { color: red }\n",
    "img/logo.png": bytes(range(256)) * 4,
    "empty.txt": b"",
}


def options(**changes) -> BuildOptions:
    """Return build options for lightning/sandbox with the given fields changed."""
    values: dict[str, Any] = {
        "connector": "lightning/sandbox",
        "overrides": {},
        "source_version": '"etag-1"',
        "sfsync_version": "0.1.0",
    }
    values.update(changes)
    return BuildOptions(**values)


def package(files=None) -> PublishedPackage:
    """Return a published package of the given files (FILES by default)."""
    return PublishedPackage(files=dict(FILES if files is None else files), origin="/srv/p.zip")


def test_zipfile_reads_the_result_and_every_crc_matches():
    """zipfile opens the built ZIP, testzip() passes, and each CRC and size is right."""
    built = build_package(package(), options())
    archive = zipfile.ZipFile(io.BytesIO(built.data))
    assert archive.testzip() is None
    for info in archive.infolist():
        content = archive.read(info)
        assert zlib.crc32(content) == info.CRC
        assert info.file_size == len(content)


def test_zip_fields_are_fixed():
    """Entries are sorted, dated 1980-01-01, mode 0644 from Unix, deflated, with no extras,
    comments or directory entries; only non-ASCII names carry the UTF-8 flag.
    """
    built = build_package(package(), options())
    archive = zipfile.ZipFile(io.BytesIO(built.data))
    names = [info.filename for info in archive.infolist()]
    assert names == sorted(names) == list(built.entries)
    assert archive.comment == b""
    for info in archive.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.extra == b""
        assert info.comment == b""
        assert not info.is_dir()
        assert bool(info.flag_bits & 0x800) == (not info.filename.isascii())


def test_building_twice_gives_identical_bytes():
    """The same package and options give the same bytes and hashes."""
    first = build_package(package(), options())
    second = build_package(package(dict(reversed(list(FILES.items())))), options())
    assert first == second
    assert first.sha256 == hashlib.sha256(first.data).hexdigest()
    assert first.size == len(first.data)


def test_round_trip_holds_the_files_with_overrides_applied():
    """The built ZIP holds every published file, the merged settings and the manifest."""
    overrides = {"power": {"hold": 5}, "active": False, "appType": "hybrid"}
    built = build_package(package(), options(overrides=overrides))
    archive = zipfile.ZipFile(io.BytesIO(built.data))
    contents = {info.filename: archive.read(info) for info in archive.infolist()}
    assert set(contents) == {*FILES, MANIFEST_NAME}
    for name, content in FILES.items():
        if name != "settings.json":
            assert contents[name] == content
    assert json.loads(contents["settings.json"]) == {
        "goals": {"rule": "a"},
        "power": {"fingers": 3, "hold": 5},
        "active": False,
        "appType": "hybrid",
    }


def test_settings_bytes_are_kept_exactly_without_overrides():
    """With no overrides the settings file is the published bytes, formatting and all."""
    built = build_package(package(), options())
    assert zipfile.ZipFile(io.BytesIO(built.data)).read("settings.json") == SETTINGS


def test_package_without_settings_builds_without_overrides():
    """A package with no settings file builds when there is nothing to override."""
    built = build_package(package({"a.js": b"1"}), options())
    assert built.entries == ("a.js", MANIFEST_NAME)


def test_settings_file_option_points_into_subfolders():
    """settings_file may name a file below the root, normalised like any entry."""
    files = {"config/walkme.json": b'{"a": 1}'}
    built = build_package(
        package(files), options(overrides={"a": 2}, settings_file="./config/walkme.json")
    )
    archive = zipfile.ZipFile(io.BytesIO(built.data))
    assert json.loads(archive.read("config/walkme.json")) == {"a": 2}
    assert json.loads(archive.read(MANIFEST_NAME))["settings_file"] == "config/walkme.json"


def test_manifest_records_the_build_without_a_clock():
    """The manifest holds the content hash, versions, connector, settings path and file count."""
    built = build_package(package(), options(overrides={"active": False}))
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(built.data)).read(MANIFEST_NAME))
    assert manifest == {
        "manifest_version": 1,
        "content_sha256": content_hash(FILES),
        "source_version": '"etag-1"',
        "connector": "lightning/sandbox",
        "sfsync_version": "0.1.0",
        "settings_file": "settings.json",
        "entry_count": len(FILES),
    }
    assert built.content_sha256 == content_hash(FILES)


def test_content_hash_is_the_same_for_every_connector():
    """Connectors of one system share content_sha256 but get different ZIPs."""
    sandbox = build_package(package(), options())
    production = build_package(
        package(), options(connector="lightning/production", overrides={"active": True})
    )
    assert sandbox.content_sha256 == production.content_sha256
    assert sandbox.sha256 != production.sha256


def test_built_package_reads_back_as_its_own_content():
    """A built ZIP is itself a valid package to read_zip_bytes, holding the same files."""
    built = build_package(package(), options())
    files = read_zip_bytes(built.data, "built", PackageLimits()).files
    assert {name: files[name] for name in FILES} == FILES


def test_result_exactly_at_the_limit_is_accepted():
    """A ZIP of exactly max_result_bytes is allowed; the refusal is strictly over it."""
    size = build_package(package(), options()).size
    limits = PackageLimits(max_result_bytes=size)
    assert build_package(package(), options(limits=limits)).size == size


def test_result_extracts_to_exactly_the_entries(tmp_path):
    """zipfile extracts the built ZIP into exactly the built files."""
    built = build_package(package(), options())
    zipfile.ZipFile(io.BytesIO(built.data)).extractall(tmp_path)
    extracted = {
        path.relative_to(tmp_path).as_posix(): path.read_bytes()
        for path in tmp_path.rglob("*")
        if path.is_file()
    }
    assert set(extracted) == set(built.entries)


def test_info_zip_accepts_the_result(tmp_path):
    """Info-ZIP's `unzip -t` finds no error in the built ZIP."""
    path = tmp_path / "built.zip"
    path.write_bytes(build_package(package(), options()).data)
    result = subprocess.run(["unzip", "-t", str(path)], capture_output=True, check=False)
    assert result.returncode == 0, result.stdout


def test_builds_keep_the_bytes_of_earlier_versions():
    """A prepared package's builds, its published runs made once and shared (one run before
    the connector's entries, one after settings.json whose offsets move with the settings'
    size), have the bytes earlier versions built: a change would push every connector again
    after an upgrade.
    """
    files = {**FILES, "zz/after-settings.txt": b"late" * 50, "a/first.txt": b"first"}
    prepared = prepare_package(PublishedPackage(files=files, origin="/srv/p.zip"))
    builds = [
        options(),
        options(overrides={"power": {"fingers": 5}}),
        options(connector="lightning/production", overrides={"goals": {"rule": "b" * 35}}),
    ]
    assert [hashlib.sha256(build_prepared(prepared, each).data).hexdigest() for each in builds] == [
        "e43b3330a309d4ebff519fa21e424bd2c0d33330740973c724305833cfff6d26",
        "6ef9f3aa1c61881679d00063268ba55f17b84925193b5d3c7a4f408e865a0c99",
        "5eb8de109578f653c0dda42e4c9025b34ba44147cc6a78cacf239164da326fc9",
    ]
    # Built alone, without the prepared package's kept runs, each is the same.
    assert (
        build_package(prepared.package, builds[2]).data == build_prepared(prepared, builds[2]).data
    )


def test_connectors_builds_share_the_published_members_bytes():
    """Two connectors' builds hold the published members' records as the same objects (one
    copy for every connector, not one a push); each build's hash and size are those of its
    pieces joined.
    """
    files = {**FILES, "zz/after-settings.txt": b"late" * 50, "a/first.txt": b"first"}
    prepared = prepare_package(PublishedPackage(files=files, origin="/srv/p.zip"))
    one = build_prepared(prepared, options())
    other = build_prepared(prepared, options(connector="lightning/production"))
    for built in (one, other):
        assert built.sha256 == hashlib.sha256(b"".join(built.pieces)).hexdigest()
        assert built.size == len(built.data) == sum(len(piece) for piece in built.pieces)
    shared = [piece for piece in one.pieces if any(piece is mine for mine in other.pieces)]
    # The runs before and after the connector's settings.json, and the first run's central
    # records (it starts the ZIP, so its offsets are the same in every connector's).
    assert len(shared) == 3
    assert [piece[:4] for piece in shared] == [b"PK\x03\x04", b"PK\x03\x04", b"PK\x01\x02"]
    published = b"".join(shared[:2])
    shared = shared[:2]
    assert all(path.encode() in published for path in files if path != "settings.json")
    # The build says which pieces are made from shared bytes, by their hashes: the two local
    # blocks as they are, and the two runs' central records, the second moved behind the
    # connector's own settings.json, by as much as those take in front of it.
    for built in (one, other):
        local, central = built.shared[:2], built.shared[2:]
        assert [built.pieces[piece.index] for piece in local] == shared
        assert all(piece.base is built.pieces[piece.index] for piece in local)
        assert [piece.sha256 for piece in built.shared] == [
            hashlib.sha256(piece.base).hexdigest() for piece in built.shared
        ]
        assert [piece.shift for piece in local] == [0, 0]
        assert central[0].shift == 0
        assert central[0].base is built.pieces[central[0].index]
        assert central[1].shift == built.data.index(shared[1])
        assert move_central(central[1].base, central[1].shift) == built.pieces[central[1].index]
    assert [piece.sha256 for piece in one.shared] == [piece.sha256 for piece in other.shared]


def test_connectors_building_at_once_share_one_layout(monkeypatch):
    """Push threads that build from one prepared package at the same moment make its layout
    (here one run of published members, before settings.json) once between them, and every
    build has the bytes of one built alone.
    """
    prepared = prepare_package(package())
    runs: list[int] = []
    make_run = MemberRun.of
    started = threading.Barrier(8)

    def counted(_cls: type[MemberRun], members: Sequence[ZipMember]) -> MemberRun:
        runs.append(len(members))
        time.sleep(0.05)  # long enough for every other thread to ask meanwhile
        return make_run(members)

    def build(index: int) -> bytes:
        started.wait()
        return build_prepared(prepared, options(overrides={"power": {"fingers": index}})).data

    monkeypatch.setattr(MemberRun, "of", classmethod(counted))
    with ThreadPoolExecutor(max_workers=8) as pool:
        built = list(pool.map(build, range(8)))
    assert runs == [4]
    monkeypatch.undo()
    assert built == [
        build_package(package(), options(overrides={"power": {"fingers": index}})).data
        for index in range(8)
    ]


def test_central_records_that_cannot_be_moved_are_refused():
    """Moving central records refuses what is not whole records, and an offset past 32 bits,
    saying where: a kept block damaged on disk is never turned into a wrong ZIP.
    """
    run = MemberRun.of(
        [ZipMember(name=f"f{n}.txt", crc=n, size=3, compressed=b"abc") for n in range(3)]
    )
    assert move_central(run.central, 0) == run.central
    assert move_central(run.central, 1000) == run.central_at(1000)
    assert move_central(b"", 5) == b""
    record = len(run.central) // 3
    for damaged, reason in (
        (run.central[:-1], "runs 1 bytes past the end"),
        (run.central + b"PK\x01", "no central record at byte"),
        (b"XX" + run.central[2:], "no central record at byte 0"),
    ):
        with pytest.raises(ValueError, match=reason):
            move_central(damaged, 7)
    with pytest.raises(ValueError, match=f"record at byte {record:,} cannot move"):
        move_central(run.central, 2**32 - 1)  # the first member's offset 0 fits, not the next
