"""Write ZIP archives byte by byte, including the broken and hostile ones zipfile refuses to write.

Each `RawEntry` says what its headers declare; anything left as None is derived honestly from
the content, so a case states only the lie it tells. (The idea is the unit tier's
`package_craft.py`; the reliability tier keeps its own copy so the tiers stay independent.)
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

LOCAL = struct.Struct("<4sHHHHHIIIHH")
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
END = struct.Struct("<4sHHHHIIH")
STORED = 0
DEFLATED = 8
UTF8_FLAG = 0x0800


@dataclass
class RawEntry:
    """One entry and whatever its headers should claim about it."""

    name: str | bytes
    content: bytes = b"content\n"
    method: int = DEFLATED
    flags: int = 0
    create_system: int = 3  # Unix, so the mode below is read
    mode: int = 0o100644
    dos_attributes: int = 0
    crc: int | None = None
    size: int | None = None
    compressed_size: int | None = None
    data: bytes | None = None  # the bytes stored, if not the honest compression of content
    local_flags: int | None = None
    local_name: bytes | None = None
    local_size: int | None = None
    header_offset: int | None = None  # where the central directory says the entry starts
    write_local: bool = True  # False: only a central record, pointing at header_offset

    def name_bytes(self) -> bytes:
        """Return the name as stored."""
        return self.name if isinstance(self.name, bytes) else self.name.encode("utf-8")

    def stored_data(self) -> bytes:
        """Return the data bytes written after the local header."""
        if self.data is not None:
            return self.data
        if self.method == DEFLATED:
            return zlib.compress(self.content, 6, -15)
        return self.content


def craft_zip(entries: list[RawEntry]) -> bytes:
    """Given entries, return a ZIP declaring exactly what each entry says."""
    body = bytearray()
    central = bytearray()
    for entry in entries:
        name = entry.name_bytes()
        data = entry.stored_data()
        crc = zlib.crc32(entry.content) if entry.crc is None else entry.crc
        size = len(entry.content) if entry.size is None else entry.size
        compressed = len(data) if entry.compressed_size is None else entry.compressed_size
        offset = len(body) if entry.header_offset is None else entry.header_offset
        local_flags = entry.flags if entry.local_flags is None else entry.local_flags
        local_name = name if entry.local_name is None else entry.local_name
        local_size = size if entry.local_size is None else entry.local_size
        if entry.write_local:
            body += LOCAL.pack(
                b"PK\x03\x04", 20, local_flags, entry.method, 0, 0x21, crc, compressed,
                local_size, len(local_name), 0,
            )  # fmt: skip
            body += local_name + data
        external = (entry.mode << 16) | entry.dos_attributes
        central += CENTRAL.pack(
            b"PK\x01\x02", (entry.create_system << 8) | 20, 20, entry.flags, entry.method, 0,
            0x21, crc, compressed, size, len(name), 0, 0, 0, 0, external, offset,
        )  # fmt: skip
        central += name
    count = len(entries)
    end = END.pack(b"PK\x05\x06", 0, 0, count, count, len(central), len(body), 0)
    return bytes(body + central + end)


def local_header(name: bytes, content: bytes) -> bytes:
    """Return a stored entry's local header and data, for hiding inside another entry."""
    header = LOCAL.pack(
        b"PK\x03\x04", 20, 0, STORED, 0, 0x21, zlib.crc32(content), len(content), len(content),
        len(name), 0,
    )  # fmt: skip
    return header + name + content
