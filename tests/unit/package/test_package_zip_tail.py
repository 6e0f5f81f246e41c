"""A ZIP's entry count and central-directory size are checked from its tail before `zipfile`
reads the directory (issue 14 item 6): each case here is refused without `zipfile.ZipFile`
ever being opened, where the old code parsed the whole directory first.
"""

from __future__ import annotations

import struct

import pytest

from sfsync.package.errors import ArchiveLimitError, CorruptArchiveError
from sfsync.package.limits import PackageLimits
from sfsync.package.read import read_zip_bytes
from sfsync.package.zipend import max_archive_bytes, max_central_directory_bytes
from tests.fixtures.zip_craft import END, RawEntry, craft_zip

ORIGIN = "/srv/pub/lightning.zip"
ZIP64_END = struct.Struct("<4sQHHIIQQQQ")
ZIP64_LOCATOR = struct.Struct("<4sIQI")


class DirectoryParsedError(AssertionError):
    """Raised by the stand-in for `zipfile.ZipFile`: the central directory was about to be read."""


@pytest.fixture
def no_zipfile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make opening any `zipfile.ZipFile` fail the test, so refusals must come from the tail."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise DirectoryParsedError("zipfile.ZipFile was opened before the limits were checked")

    monkeypatch.setattr("zipfile.ZipFile", refuse)


def end_record(entries: int, directory_size: int, directory_offset: int) -> bytes:
    """Return an end-of-central-directory record declaring the given figures, no comment."""
    count = min(entries, 0xFFFF)
    return END.pack(b"PK\x05\x06", 0, 0, count, count, directory_size, directory_offset, 0)


def assert_one_line(error: ArchiveLimitError, *fragments: str) -> None:
    """Check the message is one line naming the origin, the limit and each fragment given."""
    message = str(error)
    assert "\n" not in message
    assert ORIGIN in message
    assert "max_entries" in message or "max_expanded_bytes" in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.usefixtures("no_zipfile")
def test_one_entry_too_many_is_refused_naming_it() -> None:
    """A real ZIP of max_entries + 1 entries is refused naming the first entry past the limit."""
    data = craft_zip([RawEntry(f"f{index}.js") for index in range(4)])
    with pytest.raises(ArchiveLimitError) as caught:
        read_zip_bytes(data, ORIGIN, PackageLimits(max_entries=3))
    assert caught.value.entry == "f3.js"
    assert_one_line(caught.value, "'f3.js'", "3 entries")


@pytest.mark.usefixtures("no_zipfile")
def test_declared_million_entries_is_refused() -> None:
    """An end record declaring a million entries is refused on that claim alone (the old code
    parsed its empty directory and accepted the archive).
    """
    data = end_record(0xFFFF, 0, 0)
    with pytest.raises(ArchiveLimitError) as caught:
        read_zip_bytes(data, ORIGIN, PackageLimits(max_entries=10))
    assert_one_line(caught.value, "declares 65,535 entries", "10 ")


@pytest.mark.usefixtures("no_zipfile")
def test_zip64_record_declaring_a_billion_entries_is_refused() -> None:
    """The ZIP64 end record, which zipfile trusts over the plain one, is read for the count."""
    record = ZIP64_END.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, 10**9, 10**9, 0, 0)
    locator = ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, 0, 1)
    end = END.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with pytest.raises(ArchiveLimitError) as caught:
        read_zip_bytes(record + locator + end, ORIGIN, PackageLimits())
    assert_one_line(caught.value, "declares 1,000,000,000 entries")


@pytest.mark.usefixtures("no_zipfile")
def test_count_that_lies_low_does_not_hide_entries() -> None:
    """An end record declaring one entry over a directory of five is refused by walking the
    directory's records, as zipfile would read them.
    """
    real = craft_zip([RawEntry(f"f{index}.js") for index in range(5)])
    directory_size, directory_offset = END.unpack(real[-END.size :])[5:7]
    data = real[: -END.size] + end_record(1, directory_size, directory_offset)
    with pytest.raises(ArchiveLimitError) as caught:
        read_zip_bytes(data, ORIGIN, PackageLimits(max_entries=3))
    assert caught.value.entry == "f3.js"


@pytest.mark.usefixtures("no_zipfile")
def test_oversized_central_directory_is_refused() -> None:
    """A central directory larger than max_entries records could need is refused unread."""
    limits = PackageLimits(max_entries=1)
    size = max_central_directory_bytes(limits) + 1
    data = bytes(size) + end_record(1, size, 0)
    with pytest.raises(ArchiveLimitError) as caught:
        read_zip_bytes(data, ORIGIN, limits)
    assert_one_line(caught.value, f"{size:,} bytes")


@pytest.mark.usefixtures("no_zipfile")
def test_archive_larger_than_any_acceptable_package_is_refused() -> None:
    """A file larger than the limits allow any package to be is refused before any parsing."""
    limits = PackageLimits(max_entries=1, max_expanded_bytes=1000)
    good = craft_zip([RawEntry("a.js")])
    data = bytes(max_archive_bytes(limits)) + good
    with pytest.raises(ArchiveLimitError) as caught:
        read_zip_bytes(data, ORIGIN, limits)
    assert_one_line(caught.value, f"{len(data):,} bytes")


def test_archive_within_the_caps_still_reads() -> None:
    """A ZIP of exactly max_entries entries passes the tail check and is read as before."""
    data = craft_zip([RawEntry(f"f{index}.js") for index in range(3)])
    files = read_zip_bytes(data, ORIGIN, PackageLimits(max_entries=3)).files
    assert sorted(files) == ["f0.js", "f1.js", "f2.js"]


def test_directory_larger_than_the_file_is_left_to_zipfile() -> None:
    """An end record pointing before the file's start stays a damaged archive, not a limit."""
    data = end_record(1, 0xFFFFFFF0, 0)
    with pytest.raises(CorruptArchiveError):
        read_zip_bytes(data, ORIGIN, PackageLimits())
