"""Reading published packages: normalisation, junk, and ZIP forms that are legitimate."""

from __future__ import annotations

import io
import zipfile

import pytest

from sfsync.package.limits import PackageLimits
from sfsync.package.read import read_package, read_tree, read_zip, read_zip_bytes
from tests.fixtures.zip_craft import STORED, RawEntry, craft_zip

LIMITS = PackageLimits()


def zip_of(files: dict[str, bytes]) -> bytes:
    """Return a ZIP written by zipfile holding the given files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


JUNK = [
    "__MACOSX/._app.js",
    "__MACOSX/deep/._x.css",
    "assets/__MACOSX/._img.png",
    ".DS_Store",
    "assets/.DS_Store",
    "Thumbs.db",
    "assets/img/thumbs.db",
    "desktop.ini",
]


@pytest.mark.parametrize("junk", JUNK)
def test_junk_is_dropped_at_any_depth(junk):
    """OS clutter (__MACOSX subtrees, .DS_Store, Thumbs.db, desktop.ini) is dropped anywhere."""
    package = read_zip_bytes(zip_of({"app.js": b"x", junk: b"junk"}), "p.zip", LIMITS)
    assert dict(package.files) == {"app.js": b"x"}


def test_dot_files_and_lookalikes_are_content():
    """Dot-files and names merely resembling junk are kept as content."""
    files = {".well-known/a.txt": b"1", ".htaccess": b"2", "MACOSX/x.js": b"3", "db.Thumbs": b"4"}
    assert dict(read_zip_bytes(zip_of(files), "p.zip", LIMITS).files) == files


def test_dot_and_empty_segments_are_normalised():
    """'./a' and 'a//b' normalise to 'a' and 'a/b'; directory entries are not files."""
    data = craft_zip([RawEntry("./a.js"), RawEntry("lib//b.js"), RawEntry("lib/", content=b"")])
    assert sorted(read_zip_bytes(data, "p.zip", LIMITS).files) == ["a.js", "lib/b.js"]


def test_utf8_name_without_the_flag_is_read_as_utf8():
    """A UTF-8 name stored without the UTF-8 flag (as many tools do) reads as UTF-8."""
    data = craft_zip([RawEntry("caf\u00e9.css".encode())])
    assert list(read_zip_bytes(data, "p.zip", LIMITS).files) == ["caf\u00e9.css"]


def test_stored_entries_and_data_descriptors_are_read():
    """Stored entries and entries with data descriptors (streamed writers) are accepted."""

    class Unseekable(io.RawIOBase):
        """A write-only stream, which makes zipfile write data descriptors."""

        def __init__(self) -> None:
            self.chunks: list[bytes] = []

        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            self.chunks.append(bytes(data))
            return len(data)

    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.js", b"a" * 1000)
        archive.writestr(zipfile.ZipInfo("b.txt"), b"stored")
    data = b"".join(sink.chunks)
    assert zipfile.ZipFile(io.BytesIO(data)).infolist()[0].flag_bits & 0x08
    files = read_zip_bytes(data, "p.zip", LIMITS).files
    assert dict(files) == {"a.js": b"a" * 1000, "b.txt": b"stored"}
    assert read_zip_bytes(craft_zip([RawEntry("s", method=STORED)]), "p", LIMITS).files


def test_zip_and_unpacked_tree_read_the_same(tmp_path):
    """A ZIP and the same files unpacked into a directory give the same package files."""
    files = {"settings.json": b"{}", "lib/app.js": b"x" * 100, ".hidden": b"h", "empty": b""}
    (tmp_path / "tree" / "lib").mkdir(parents=True)
    (tmp_path / "tree" / ".DS_Store").write_bytes(b"junk")
    for name, content in files.items():
        (tmp_path / "tree" / name).write_bytes(content)
    (tmp_path / "tree" / "empty-dir").mkdir()
    (tmp_path / "p.zip").write_bytes(zip_of(files))
    from_zip = read_package(tmp_path / "p.zip", LIMITS)
    from_tree = read_package(tmp_path / "tree", LIMITS)
    assert dict(from_zip.files) == dict(from_tree.files) == files
    assert from_zip.origin == str(tmp_path / "p.zip")
    assert from_tree.origin == str(tmp_path / "tree")


def test_read_zip_reads_from_disk(tmp_path):
    """read_zip reads a ZIP file from its path."""
    path = tmp_path / "p.zip"
    path.write_bytes(zip_of({"a.js": b"1"}))
    assert dict(read_zip(path, LIMITS).files) == {"a.js": b"1"}


def test_tree_junk_directory_is_dropped(tmp_path):
    """A __MACOSX directory in a tree is dropped whole."""
    (tmp_path / "__MACOSX" / "lib").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "lib" / "._a.js").write_bytes(b"x")
    (tmp_path / "a.js").write_bytes(b"a")
    assert dict(read_tree(tmp_path, LIMITS).files) == {"a.js": b"a"}
