"""The corpus of hostile and broken packages: each is refused with its own error class, and the
one-line message names the entry and where it came from.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from sfsync.errors import PackageError
from sfsync.package.build import BuildOptions, build_package
from sfsync.package.errors import (
    ArchiveLimitError,
    CorruptArchiveError,
    DuplicateEntryError,
    EncryptedEntryError,
    LinkOrSpecialFileError,
    NotAZipError,
    PackageTooLargeError,
    PathConflictError,
    ReservedEntryError,
    SettingsError,
    SizeMismatchError,
    TruncatedArchiveError,
    UnreadablePackageError,
    UnsafePathError,
    UnsupportedCompressionError,
)
from sfsync.package.limits import PackageLimits
from sfsync.package.read import PublishedPackage, read_tree, read_zip, read_zip_bytes
from tests.fixtures.zip_craft import DEFLATED, LOCAL, STORED, RawEntry, craft_zip

ORIGIN = "/srv/pub/lightning.zip"
MIB = 1024 * 1024
BOMB = b"\0" * (2 * MIB)


def case(case_id: str, *values: object) -> object:
    """Return a parametrize case with its readable id first, where the table shows it."""
    return pytest.param(*values, id=case_id)


def assert_names(error: PackageError, entry: str | None, origin: str) -> None:
    """Check the message is one line naming the origin and, if given, the entry."""
    message = str(error)
    assert "\n" not in message
    assert origin in message
    if entry is not None:
        assert error.entry == entry
        assert repr(entry) in message


def overlapping() -> list[RawEntry]:
    """Return a ZIP whose second entry's local header lies inside the first entry's data."""
    inner = LOCAL.pack(b"PK\x03\x04", 20, 0, STORED, 0, 0x21, zlib.crc32(b"x"), 1, 1, 4, 0)
    inner += b"b.js" + b"x"
    return [
        RawEntry("a.js", content=inner, method=STORED),
        RawEntry(
            "b.js",
            content=b"x",
            method=STORED,
            write_local=False,
            header_offset=LOCAL.size + len(b"a.js"),
        ),
    ]


def bomb_hidden_by_padding() -> list[RawEntry]:
    """Return a ratio bomb whose declared compressed size is padded to look harmless."""
    data = zlib.compress(BOMB, 9, -15) + b"\0" * (16 * 1024)
    return [RawEntry("big.js", content=BOMB, data=data)]


# (entries, limits, expected error, entry named)
ZIP_CASES = [
    case("absolute-posix", [RawEntry("/etc/passwd")], None, UnsafePathError, "/etc/passwd"),
    case(
        "absolute-unc",
        [RawEntry("//server/share/x.js")],
        None,
        UnsafePathError,
        "//server/share/x.js",
    ),
    case("absolute-windows-backslash", [RawEntry("C:\\x.js")], None, UnsafePathError, "C:\\x.js"),
    case("drive-relative-windows", [RawEntry("C:x.js")], None, UnsafePathError, "C:x.js"),
    case("dotdot-leading", [RawEntry("../evil.js")], None, UnsafePathError, "../evil.js"),
    case("dotdot-nested", [RawEntry("a/../../evil.js")], None, UnsafePathError, "a/../../evil.js"),
    case("dotdot-trailing", [RawEntry("a/b/..")], None, UnsafePathError, "a/b/.."),
    case("backslash-dotdot", [RawEntry("a\\..\\b.js")], None, UnsafePathError, "a\\..\\b.js"),
    case("backslash-separator", [RawEntry("dir\\file.js")], None, UnsafePathError, "dir\\file.js"),
    case("nul-in-name", [RawEntry("a\0b.js")], None, UnsafePathError, "a\0b.js"),
    case("newline-in-name", [RawEntry("a\nb.js")], None, UnsafePathError, "a\nb.js"),
    case("delete-char-in-name", [RawEntry("a\x7fb.js")], None, UnsafePathError, "a\x7fb.js"),
    case("name-not-utf8", [RawEntry(b"\xff\xfe.js")], None, UnsafePathError, "\xa0\u25a0.js"),
    case("file-named-dot", [RawEntry(".")], None, UnsafePathError, "."),
    case(
        "duplicate-exact", [RawEntry("a.js"), RawEntry("a.js")], None, DuplicateEntryError, "a.js"
    ),
    case(
        "duplicate-dot-segment",
        [RawEntry("a.js"), RawEntry("./a.js")],
        None,
        DuplicateEntryError,
        "./a.js",
    ),
    case(
        "duplicate-empty-segment",
        [RawEntry("a/b.js"), RawEntry("a//b.js")],
        None,
        DuplicateEntryError,
        "a//b.js",
    ),
    case(
        "duplicate-case",
        [RawEntry("App.js"), RawEntry("app.js")],
        None,
        DuplicateEntryError,
        "app.js",
    ),
    case(
        "duplicate-unicode-normalisation",
        [RawEntry("caf\u00e9.js"), RawEntry("cafe\u0301.js")],
        None,
        DuplicateEntryError,
        "cafe\u0301.js",
    ),
    case(
        "file-and-directory", [RawEntry("a"), RawEntry("a/b.js")], None, PathConflictError, "a/b.js"
    ),
    case(
        "directory-entry-over-file",
        [RawEntry("a"), RawEntry("a/", content=b"")],
        None,
        PathConflictError,
        "a/",
    ),
    case(
        "symlink-mode",
        [RawEntry("link.js", mode=0o120777)],
        None,
        LinkOrSpecialFileError,
        "link.js",
    ),
    case("fifo-mode", [RawEntry("fifo", mode=0o010644)], None, LinkOrSpecialFileError, "fifo"),
    case("char-device-mode", [RawEntry("tty", mode=0o020644)], None, LinkOrSpecialFileError, "tty"),
    case(
        "block-device-mode", [RawEntry("disk", mode=0o060644)], None, LinkOrSpecialFileError, "disk"
    ),
    case("socket-mode", [RawEntry("sock", mode=0o140644)], None, LinkOrSpecialFileError, "sock"),
    case(
        "windows-reparse-point",
        [RawEntry("link.js", create_system=0, mode=0, dos_attributes=0x420)],
        None,
        LinkOrSpecialFileError,
        "link.js",
    ),
    case(
        "directory-mode-on-file",
        [RawEntry("a.js", mode=0o040755)],
        None,
        CorruptArchiveError,
        "a.js",
    ),
    case(
        "encrypted-flag", [RawEntry("secret.js", flags=0x1)], None, EncryptedEntryError, "secret.js"
    ),
    case(
        "encrypted-local-header-only",
        [RawEntry("secret.js", local_flags=0x1)],
        None,
        EncryptedEntryError,
        "secret.js",
    ),
    case(
        "strong-encryption-flag",
        [RawEntry("secret.js", flags=0x40)],
        None,
        EncryptedEntryError,
        "secret.js",
    ),
    case(
        "declared-size-too-small",
        [RawEntry("a.js", content=b"x" * 100, size=50)],
        None,
        SizeMismatchError,
        "a.js",
    ),
    case(
        "declared-size-too-large",
        [RawEntry("a.js", content=b"x" * 100, size=150)],
        None,
        SizeMismatchError,
        "a.js",
    ),
    case(
        "stored-sizes-differ",
        [RawEntry("a.js", method=STORED, compressed_size=4, data=b"cont")],
        None,
        SizeMismatchError,
        "a.js",
    ),
    case(
        "local-and-central-sizes-differ",
        [RawEntry("a.js", local_size=999)],
        None,
        SizeMismatchError,
        "a.js",
    ),
    case(
        "deflate-ends-early",
        [RawEntry("a.js", data=zlib.compress(b"content\n", 6, -15) + b"junk")],
        None,
        SizeMismatchError,
        "a.js",
    ),
    case(
        "directory-entry-with-content",
        [RawEntry("d/", content=b"x", method=STORED)],
        None,
        SizeMismatchError,
        "d/",
    ),
    case("crc-mismatch", [RawEntry("a.js", crc=0xDEADBEEF)], None, CorruptArchiveError, "a.js"),
    case(
        "corrupt-deflate-data",
        [RawEntry("a.js", data=b"\xff" * 20)],
        None,
        CorruptArchiveError,
        "a.js",
    ),
    case(
        "deflate-stream-cut",
        [RawEntry("a.js", data=zlib.compress(b"content\n", 6, -15)[:-2])],
        None,
        CorruptArchiveError,
        "a.js",
    ),
    case(
        "local-name-differs",
        [RawEntry("a.js", local_name=b"b.js")],
        None,
        CorruptArchiveError,
        "a.js",
    ),
    case("no-local-header", [RawEntry("a.js", header_offset=1)], None, CorruptArchiveError, "a.js"),
    case("overlapping-entries", overlapping(), None, CorruptArchiveError, "b.js"),
    case(
        "local-header-past-end",
        [RawEntry("a.js", header_offset=10**6)],
        None,
        TruncatedArchiveError,
        "a.js",
    ),
    case("bzip2", [RawEntry("a.js", method=12)], None, UnsupportedCompressionError, "a.js"),
    case("lzma", [RawEntry("a.js", method=14)], None, UnsupportedCompressionError, "a.js"),
    case("deflate64", [RawEntry("a.js", method=9)], None, UnsupportedCompressionError, "a.js"),
    case(
        "bomb-entry-count",
        [RawEntry(f"f{index}.js") for index in range(11)],
        PackageLimits(max_entries=10),
        ArchiveLimitError,
        "f10.js",
    ),
    case(
        "bomb-total-size",
        [RawEntry("a.js", content=b"a" * 600), RawEntry("b.js", content=b"b" * 600)],
        PackageLimits(max_expanded_bytes=1000),
        ArchiveLimitError,
        "b.js",
    ),
    case(
        "bomb-ratio-declared", [RawEntry("big.js", content=BOMB)], None, ArchiveLimitError, "big.js"
    ),
    case("bomb-ratio-while-streaming", bomb_hidden_by_padding(), None, ArchiveLimitError, "big.js"),
]


@pytest.mark.parametrize(("entries", "limits", "expected", "entry"), ZIP_CASES)
def test_hostile_zip_is_refused_naming_the_entry(entries, limits, expected, entry):
    """Each hostile archive raises its specific error class, naming the entry and the origin."""
    data = craft_zip(entries)
    with pytest.raises(expected) as caught:
        read_zip_bytes(data, ORIGIN, limits or PackageLimits())
    assert type(caught.value) is expected
    assert_names(caught.value, entry, ORIGIN)


def good_zip() -> bytes:
    """Return a small valid ZIP."""
    return craft_zip([RawEntry("settings.json", content=b"{}"), RawEntry("app.js")])


ARCHIVE_CASES = [
    case("empty-file", b"", NotAZipError),
    case("html-error-page", b"<html>not a zip</html>", NotAZipError),
    case("gzip-not-zip", b"\x1f\x8b\x08\x00" + bytes(100), NotAZipError),
    case("cut-short", good_zip()[:-10], TruncatedArchiveError),
    case("still-being-written", good_zip()[: LOCAL.size + 10], TruncatedArchiveError),
    case(
        "utf8-flag-invalid-name",
        craft_zip([RawEntry(b"\xff.js", flags=0x800)]),
        CorruptArchiveError,
    ),
    case(
        "end-record-points-nowhere",
        good_zip()[:-22] + b"PK\x05\x06" + bytes(8) + b"\xff" * 8 + bytes(2),
        CorruptArchiveError,
    ),
]


@pytest.mark.parametrize(("data", "expected"), ARCHIVE_CASES)
def test_broken_archive_is_refused_naming_the_origin(data, expected):
    """A file that is not a whole ZIP raises its specific error class, naming the origin."""
    with pytest.raises(expected) as caught:
        read_zip_bytes(data, ORIGIN, PackageLimits())
    assert type(caught.value) is expected
    assert_names(caught.value, None, ORIGIN)


def test_missing_zip_file_is_unreadable(tmp_path):
    """A ZIP path that does not exist raises UnreadablePackageError naming the path."""
    missing = tmp_path / "gone.zip"
    with pytest.raises(UnreadablePackageError) as caught:
        read_zip(missing, PackageLimits())
    assert_names(caught.value, None, str(missing))


def make_symlink(root: Path) -> None:
    """Put a symlink to a file outside the package into the tree."""
    (root / "outside.txt").write_text("secret")
    (root / "pkg").mkdir()
    (root / "pkg" / "link.js").symlink_to(root / "outside.txt")


def make_directory_symlink(root: Path) -> None:
    """Put a symlink to a directory into the tree."""
    (root / "pkg" / "real").mkdir(parents=True)
    (root / "pkg" / "alias").symlink_to(root / "pkg" / "real")


def make_fifo(root: Path) -> None:
    """Put a FIFO into the tree."""
    (root / "pkg" / "sub").mkdir(parents=True)
    os.mkfifo(root / "pkg" / "sub" / "pipe")


def make_named(name: str | bytes) -> Callable[[Path], None]:
    """Return a builder putting one file with the given name into the tree."""

    def build(root: Path) -> None:
        (root / "pkg").mkdir()
        path = os.path.join(os.fsencode(root / "pkg"), os.fsencode(name))  # noqa: PTH118
        with open(path, "wb") as file:  # noqa: PTH123
            file.write(b"x")

    return build


def make_case_duplicates(root: Path) -> None:
    """Put two files differing only in case into the tree."""
    (root / "pkg").mkdir()
    (root / "pkg" / "App.js").write_text("a")
    (root / "pkg" / "app.js").write_text("b")


def make_many(root: Path) -> None:
    """Put more files than the limit allows into the tree."""
    (root / "pkg").mkdir()
    for index in range(11):
        (root / "pkg" / f"f{index:02}.js").write_text("x")


def make_large(root: Path) -> None:
    """Put more bytes than the limit allows into the tree."""
    (root / "pkg").mkdir()
    (root / "pkg" / "a.js").write_bytes(b"a" * 600)
    (root / "pkg" / "b.js").write_bytes(b"b" * 600)


# (tree builder, limits, expected error, entry named)
TREE_CASES = [
    case("tree-symlink-to-file", make_symlink, None, LinkOrSpecialFileError, "link.js"),
    case(
        "tree-symlink-to-directory", make_directory_symlink, None, LinkOrSpecialFileError, "alias"
    ),
    case("tree-fifo", make_fifo, None, LinkOrSpecialFileError, "sub/pipe"),
    case("tree-backslash-name", make_named("a\\b.js"), None, UnsafePathError, "a\\b.js"),
    case("tree-newline-name", make_named("a\nb.js"), None, UnsafePathError, "a\nb.js"),
    case("tree-name-not-utf8", make_named(b"\xff.js"), None, UnsafePathError, "\udcff.js"),
    case("tree-drive-letter-name", make_named("C:x.js"), None, UnsafePathError, "C:x.js"),
    case("tree-duplicate-case", make_case_duplicates, None, DuplicateEntryError, "app.js"),
    case("tree-entry-count", make_many, PackageLimits(max_entries=10), ArchiveLimitError, "f10.js"),
    case(
        "tree-total-size",
        make_large,
        PackageLimits(max_expanded_bytes=1000),
        ArchiveLimitError,
        "b.js",
    ),
]


@pytest.mark.parametrize(("build", "limits", "expected", "entry"), TREE_CASES)
def test_hostile_tree_is_refused_naming_the_entry(tmp_path, build, limits, expected, entry):
    """Each hostile unpacked package raises its specific error class, naming the entry."""
    build(tmp_path)
    root = tmp_path / "pkg"
    with pytest.raises(expected) as caught:
        read_tree(root, limits or PackageLimits())
    assert type(caught.value) is expected
    assert_names(caught.value, entry, str(root))


def test_missing_tree_is_unreadable(tmp_path):
    """A package directory that cannot be listed raises UnreadablePackageError."""
    with pytest.raises(UnreadablePackageError):
        read_tree(tmp_path / "gone", PackageLimits())


OPTIONS = BuildOptions(
    connector="lightning/sandbox", overrides={}, source_version="v1", sfsync_version="0.1.0"
)
WITH_OVERRIDES = BuildOptions(
    connector="lightning/sandbox",
    overrides={"active": False},
    source_version="v1",
    sfsync_version="0.1.0",
)

# (files, options, expected error, entry named)
BUILD_CASES = [
    case(
        "manifest-already-present",
        {"sfsync-manifest.json": b"{}"},
        OPTIONS,
        ReservedEntryError,
        "sfsync-manifest.json",
    ),
    case(
        "manifest-present-other-case",
        {"SFSYNC-Manifest.json": b"{}"},
        OPTIONS,
        ReservedEntryError,
        "SFSYNC-Manifest.json",
    ),
    case(
        "settings-invalid-json",
        {"settings.json": b"{not json"},
        OPTIONS,
        SettingsError,
        "settings.json",
    ),
    case("settings-array", {"settings.json": b"[1, 2]"}, OPTIONS, SettingsError, "settings.json"),
    case("settings-string", {"settings.json": b'"text"'}, OPTIONS, SettingsError, "settings.json"),
    case("settings-null", {"settings.json": b"null"}, OPTIONS, SettingsError, "settings.json"),
    case(
        "settings-not-utf8",
        {"settings.json": b'{"a": "\xff"}'},
        OPTIONS,
        SettingsError,
        "settings.json",
    ),
    case("settings-nan", {"settings.json": b'{"a": NaN}'}, OPTIONS, SettingsError, "settings.json"),
    case(
        "settings-huge-integer",
        {"settings.json": b'{"a": ' + b"1" * 5000 + b"}"},
        OPTIONS,
        SettingsError,
        "settings.json",
    ),
    case(
        "settings-recursion-bomb",
        {"settings.json": b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"},
        OPTIONS,
        SettingsError,
        "settings.json",
    ),
    case(
        "settings-too-deep",
        {"settings.json": b'{"a": ' + b"[" * 80 + b"]" * 80 + b"}"},
        OPTIONS,
        SettingsError,
        "settings.json",
    ),
    case(
        "settings-too-large",
        {"settings.json": b'{"a": "' + b"x" * (1024 * 1024) + b'"}'},
        OPTIONS,
        SettingsError,
        "settings.json",
    ),
    case(
        "overrides-without-settings",
        {"app.js": b"x"},
        WITH_OVERRIDES,
        SettingsError,
        "settings.json",
    ),
]


@pytest.mark.parametrize(("files", "options", "expected", "entry"), BUILD_CASES)
def test_unbuildable_package_is_refused_naming_the_entry(files, options, expected, entry):
    """A package whose settings or manifest cannot be handled raises its specific error class."""
    package = PublishedPackage(files=files, origin=ORIGIN)
    with pytest.raises(expected) as caught:
        build_package(package, options)
    assert type(caught.value) is expected
    assert_names(caught.value, entry, ORIGIN)


def test_result_over_the_limit_is_refused_with_size_and_limit():
    """A build larger than max_result_bytes raises PackageTooLargeError naming both sizes."""
    package = PublishedPackage(files={"noise.bin": os.urandom(50_000)}, origin=ORIGIN)
    options = BuildOptions(
        connector="lightning/sandbox",
        overrides={},
        source_version="v1",
        sfsync_version="0.1.0",
        limits=PackageLimits(max_result_bytes=40_000),
    )
    with pytest.raises(PackageTooLargeError, match=r"over the 40,000-byte") as caught:
        build_package(package, options)
    assert_names(caught.value, None, ORIGIN)
    assert "lightning/sandbox" in str(caught.value)
    # It names what the user can change (the package's content) and no key that does not exist.
    assert "max_result_bytes" not in str(caught.value)
    assert "Salesforce Static Resource limit" in str(caught.value)
    assert "less content" in str(caught.value)


def test_unsafe_settings_file_option_is_refused():
    """A settings_file option that climbs out of the package raises SettingsError."""
    package = PublishedPackage(files={"app.js": b"x"}, origin=ORIGIN)
    options = BuildOptions(
        connector="c/s", overrides={}, source_version="v", sfsync_version="0", settings_file="../x"
    )
    with pytest.raises(SettingsError, match=r"settings_file '\.\./x'"):
        build_package(package, options)


def test_overrides_that_json_cannot_hold_are_refused():
    """An override holding NaN (which TOML allows) raises SettingsError, not ValueError."""
    package = PublishedPackage(files={"settings.json": b"{}"}, origin=ORIGIN)
    options = BuildOptions(
        connector="c/s", overrides={"x": float("nan")}, source_version="v", sfsync_version="0"
    )
    with pytest.raises(SettingsError, match="overrides cannot be written as JSON"):
        build_package(package, options)


def test_zip_refusal_reads_a_zip_from_disk_too(tmp_path):
    """read_zip refuses a hostile archive on disk just as read_zip_bytes does."""
    path = tmp_path / "evil.zip"
    path.write_bytes(craft_zip([RawEntry("../evil.js")]))
    with pytest.raises(UnsafePathError) as caught:
        read_zip(path, PackageLimits())
    assert_names(caught.value, "../evil.js", str(path))


def test_zipfile_written_symlink_is_refused():
    """A symlink as zipfile itself records it (unix mode in external_attr) is refused."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("link.js")
        info.create_system = 3
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(LinkOrSpecialFileError, match="symbolic link"):
        read_zip_bytes(buffer.getvalue(), ORIGIN, PackageLimits())


def test_ratio_is_not_checked_below_the_floor():
    """A small, very compressible entry is fine: the ratio limit starts past ratio_floor_bytes."""
    data = craft_zip([RawEntry("zeros.bin", content=b"\0" * 500_000, method=DEFLATED)])
    package = read_zip_bytes(data, ORIGIN, PackageLimits())
    assert len(package.files["zeros.bin"]) == 500_000
