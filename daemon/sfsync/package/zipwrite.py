"""Write a ZIP from entries already compressed, byte for byte the same every time.

Every field that could vary is fixed: the 1980-01-01 00:00:00 timestamp, regular-file mode
0644 made on Unix, raw deflate, no extra fields, no comments, no directory entries, no data
descriptors. Only the UTF-8 flag varies, and only with the name.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from sfsync.package.errors import PackageTooLargeError, describe

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_END = struct.Struct("<4sHHHHIIH")
_VERSION = 20  # 2.0: deflate, the oldest version every reader handles
_MADE_ON_UNIX = 3 << 8
_FLAG_UTF8 = 0x0800
_DEFLATED = 8
_DOS_TIME = 0  # 00:00:00
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, the earliest date a ZIP can hold
_FILE_MODE = 0o100644 << 16  # regular file, rw-r--r--
_MAX_ENTRIES = 0xFFFF
_MAX_FIELD = 0xFFFFFFFF  # beyond this ZIP64 would be needed, which the 5 MB limit never calls for


@dataclass(frozen=True)
class ZipMember:
    """One file to write: its path, the CRC-32 and size of its content, and the raw deflate."""

    name: str
    crc: int
    size: int
    compressed: bytes


def zip_size(members: Sequence[ZipMember]) -> int:
    """Given the members, return how many bytes `write_zip` will produce for them."""
    total = _END.size
    for member in members:
        name_length = len(member.name.encode("utf-8"))
        total += _LOCAL.size + _CENTRAL.size + 2 * name_length + len(member.compressed)
    return total


def write_zip(members: Sequence[ZipMember], origin: str) -> bytes:
    """Given the members in the order to write them and the package origin, return the ZIP.

    Raise `PackageTooLargeError` if it would need ZIP64 (more than 65,535 entries or 4 GiB).
    """
    if len(members) > _MAX_ENTRIES or zip_size(members) > _MAX_FIELD:
        raise PackageTooLargeError(
            f"{describe(origin)}: {len(members):,} entries and {zip_size(members):,} bytes "
            "need ZIP64, which a Static Resource never should"
        )
    local_parts: list[bytes] = []
    central_parts: list[bytes] = []
    offset = 0
    for member in members:
        name = member.name.encode("utf-8")
        flags = 0 if member.name.isascii() else _FLAG_UTF8
        fields = (_DEFLATED, _DOS_TIME, _DOS_DATE, member.crc, len(member.compressed))
        local = _LOCAL.pack(b"PK\x03\x04", _VERSION, flags, *fields, member.size, len(name), 0)
        local_parts += [local, name, member.compressed]
        central_parts += [
            _CENTRAL.pack(
                b"PK\x01\x02",
                _MADE_ON_UNIX | _VERSION,
                _VERSION,
                flags,
                *fields,
                member.size,
                len(name),
                0,  # extra field length
                0,  # comment length
                0,  # disk number
                0,  # internal attributes
                _FILE_MODE,
                offset,
            ),
            name,
        ]
        offset += len(local) + len(name) + len(member.compressed)
    central = b"".join(central_parts)
    end = _END.pack(b"PK\x05\x06", 0, 0, len(members), len(members), len(central), offset, 0)
    return b"".join([*local_parts, central, end])
