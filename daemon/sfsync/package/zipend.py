"""Check what a ZIP's tail claims before `zipfile` reads its central directory into memory.

`zipfile.ZipFile` reads the whole central directory at once and builds an object per record, so
a 92 MB archive of a million empty entries cost 572 MB before `max_entries` was ever checked.
Here the end record (and its ZIP64 sibling) is read from the tail, the directory's size and the
archive's size are held to caps derived from the limits, and the directory's records are
counted by walking their fixed-size headers, which costs one small read per record and stops
one past `max_entries`. Archives with no end record are left to `zipfile`, whose refusal of
them is already precise.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO

from sfsync.package.errors import ArchiveLimitError, describe
from sfsync.package.limits import PackageLimits

_END = struct.Struct("<4sHHHHIIH")
_END_SIGNATURE = b"PK\x05\x06"
_MAX_COMMENT = 0xFFFF
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_END = struct.Struct("<4sQHHIIQQQQ")
_ZIP64_END_SIGNATURE = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_LOCAL_HEADER_BYTES = 30
_DATA_DESCRIPTOR_BYTES = 24  # ZIP64 form, the larger
_FLAG_UTF8 = 0x0800
# What one honest entry may spend on its name and on extra fields and comment, in each of its
# two headers: PATH_MAX for the name, and room for the usual extras (timestamps, Unix ids,
# ZIP64 sizes) many times over.
_NAME_BUDGET = 4096
_EXTRA_BUDGET = 1024


@dataclass(frozen=True)
class _Tail:
    """What the end record says: entries declared, and where the central directory lies."""

    entries: int
    directory_start: int
    directory_size: int


def max_central_directory_bytes(limits: PackageLimits) -> int:
    """Given the limits, return the largest central directory an acceptable ZIP can have."""
    return limits.max_entries * (_CENTRAL.size + _NAME_BUDGET + _EXTRA_BUDGET)


def max_archive_bytes(limits: PackageLimits) -> int:
    """Given the limits, return the largest ZIP that could hold an acceptable package.

    Its data cannot exceed what it expands to by more than deflate's stored-block framing
    (5 bytes per 64 KiB, well under a thousandth), and each entry adds two headers.
    """
    local = _LOCAL_HEADER_BYTES + _NAME_BUDGET + _EXTRA_BUDGET + _DATA_DESCRIPTOR_BYTES
    tail = _END.size + _MAX_COMMENT + _ZIP64_LOCATOR.size + _ZIP64_END.size
    data = limits.max_expanded_bytes + limits.max_expanded_bytes // 1000
    return data + limits.max_entries * local + max_central_directory_bytes(limits) + tail


def check_zip_tail(stream: IO[bytes], origin: str, limits: PackageLimits) -> None:
    """Given a seekable binary stream holding a ZIP, its origin and the limits, raise
    `ArchiveLimitError` if the archive is larger than any acceptable package, or its central
    directory holds or declares more than `max_entries` entries, before anything reads it.

    Return quietly when there is no end record or it is impossible: `zipfile` refuses those with
    its own message.
    """
    length = stream.seek(0, 2)
    if length > max_archive_bytes(limits):
        raise ArchiveLimitError(
            f"{describe(origin)}: archive is {length:,} bytes, larger than any package within "
            f"the limits could be ({max_archive_bytes(limits):,}; limits max_expanded_bytes "
            "and max_entries)"
        )
    tail = _read_tail(stream, length)
    if tail is None or tail.directory_start < 0:
        return  # no end record, or a directory larger than the file: zipfile calls it damaged
    if tail.directory_size > max_central_directory_bytes(limits):
        raise ArchiveLimitError(
            f"{describe(origin)}: central directory is {tail.directory_size:,} bytes, more than "
            f"{limits.max_entries:,} entries could need (limit max_entries)"
        )
    _count_records(stream, tail, origin, limits)
    if tail.entries > limits.max_entries:
        raise ArchiveLimitError(
            f"{describe(origin)}: declares {tail.entries:,} entries, more than "
            f"{limits.max_entries:,} (limit max_entries)"
        )


def _read_tail(stream: IO[bytes], length: int) -> _Tail | None:
    # Found as zipfile finds it: the last 22 bytes if they are a record without a comment, else
    # the last signature within a comment's reach of the end. Any other search could pick
    # another record than zipfile then trusts (a size field can hold the signature's bytes).
    reach = min(length, _END.size + _MAX_COMMENT)
    stream.seek(length - reach)
    window = stream.read(reach)
    last = window[-_END.size :]
    if len(last) == _END.size and last.startswith(_END_SIGNATURE) and last.endswith(b"\0\0"):
        found = len(window) - _END.size
    else:
        found = window.rfind(_END_SIGNATURE)
    if found < 0 or found + _END.size > len(window):
        return None
    end_at = length - reach + found
    fields = _END.unpack_from(window, found)
    entries, size = fields[4], fields[5]
    zip64 = _read_zip64(stream, end_at)
    if zip64 is not None:
        # zipfile then trusts the ZIP64 record, found just before its locator.
        entries, size, record_at = zip64
        return _Tail(entries=entries, directory_start=record_at - size, directory_size=size)
    return _Tail(entries=entries, directory_start=end_at - size, directory_size=size)


def _read_zip64(stream: IO[bytes], end_at: int) -> tuple[int, int, int] | None:
    """Return (entries, directory size, record offset) from a ZIP64 end record, if there is one
    where zipfile looks for it.
    """
    record_at = end_at - _ZIP64_LOCATOR.size - _ZIP64_END.size
    if record_at < 0:
        return None
    stream.seek(record_at)
    block = stream.read(_ZIP64_END.size + _ZIP64_LOCATOR.size)
    if len(block) < _ZIP64_END.size + _ZIP64_LOCATOR.size:
        return None
    if _ZIP64_LOCATOR.unpack_from(block, _ZIP64_END.size)[0] != _ZIP64_LOCATOR_SIGNATURE:
        return None
    record = _ZIP64_END.unpack_from(block)
    if record[0] != _ZIP64_END_SIGNATURE:
        return None
    return record[7], record[8], record_at


def _count_records(stream: IO[bytes], tail: _Tail, origin: str, limits: PackageLimits) -> None:
    # Walk the records as zipfile will (it ignores the declared count and reads records until
    # the directory's size is used up), so a count that lies cannot hide a million of them.
    stream.seek(tail.directory_start)
    walked = 0
    records = 0
    while walked < tail.directory_size:
        header = stream.read(_CENTRAL.size)
        if len(header) < _CENTRAL.size or header[:4] != _CENTRAL_SIGNATURE:
            return  # damaged: zipfile refuses it, and reads no further than this either
        fields = _CENTRAL.unpack(header)
        flags, name_length = fields[5], fields[12]
        name = stream.read(name_length)
        records += 1
        if records > limits.max_entries:
            entry = _decode(name, flags)
            raise ArchiveLimitError(
                f"{describe(origin, entry)}: more than {limits.max_entries:,} entries "
                "(limit max_entries)",
                entry=entry,
            )
        skip = fields[13] + fields[14]  # extra field and comment
        stream.seek(skip, 1)
        walked += _CENTRAL.size + name_length + skip


def _decode(name: bytes, flags: int) -> str:
    # The same decoding zipread applies to names, so the message names the entry alike.
    if flags & _FLAG_UTF8 or name.isascii():
        return name.decode("utf-8", "surrogateescape")
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        return name.decode("cp437")
