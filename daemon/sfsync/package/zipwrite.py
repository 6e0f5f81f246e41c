"""Write a ZIP from entries already compressed, byte for byte the same every time.

Every field that could vary is fixed: the 1980-01-01 00:00:00 timestamp, regular-file mode
0644 made on Unix, raw deflate, no extra fields, no comments, no directory entries, no data
descriptors. Only the UTF-8 flag varies, and only with the name.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from sfsync.package.errors import PackageTooLargeError, describe

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
# The central directory record without its last field, the member's offset, which depends on
# the members before it: everything else is made once per member, whatever ZIP it goes in.
_CENTRAL_HEAD = struct.Struct("<4sHHHHHHIIIHHHHHI")
_OFFSET = struct.Struct("<I")
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
    """One file to write: its path, the CRC-32 and size of its content, and the raw deflate.

    Its records are made once and kept: a published file's member goes into every
    connector's ZIP, and with a thousand files, packing them anew for each connector cost
    more CPU than the rest of its push.
    """

    name: str
    crc: int
    size: int
    compressed: bytes

    @cached_property
    def records(self) -> tuple[bytes, bytes, bytes]:
        """Return the local header with the name, the central record up to its offset, and
        the name (which follows the offset).
        """
        name = self.name.encode("utf-8")
        flags = 0 if self.name.isascii() else _FLAG_UTF8
        fields = (_DEFLATED, _DOS_TIME, _DOS_DATE, self.crc, len(self.compressed))
        local = _LOCAL.pack(b"PK\x03\x04", _VERSION, flags, *fields, self.size, len(name), 0)
        central = _CENTRAL_HEAD.pack(
            b"PK\x01\x02",
            _MADE_ON_UNIX | _VERSION,
            _VERSION,
            flags,
            *fields,
            self.size,
            len(name),
            0,  # extra field length
            0,  # comment length
            0,  # disk number
            0,  # internal attributes
            _FILE_MODE,
        )
        return local + name, central, name

    @cached_property
    def footprint(self) -> int:
        """Return the bytes this member takes in a ZIP: local record, data, central record."""
        local, central, name = self.records
        return len(local) + len(self.compressed) + len(central) + _OFFSET.size + len(name)


@dataclass(frozen=True)
class MemberRun:
    """Consecutive members made into ZIP records once. A package's published files go into
    every connector's ZIP in the same order, between the connector's own entries, so each run of
    them between those is made once: its local records and data as one block, its central
    records as another whose offsets count from the run's start and are moved when the run
    starts elsewhere in a ZIP.

    The local block is one copy of the members' records and data for every connector, made
    once per publish, so that a connector's ZIP is a handful of pieces (see `zip_pieces`)
    rather than thousands to join into a new buffer of the package's size on every push.
    """

    local: bytes
    central: bytes
    count: int
    # (where each member's offset sits in `central`, that offset from the run's start)
    offsets: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, members: Sequence[ZipMember]) -> MemberRun:
        """Given members in the order they are written, return them as one run."""
        local_parts: list[bytes] = []
        central_parts: list[bytes] = []
        offsets: list[tuple[int, int]] = []
        offset = position = 0
        for member in members:
            local, central, name = member.records
            local_parts += (local, member.compressed)
            central_parts += (central, _OFFSET.pack(offset), name)
            offsets.append((position + len(central), offset))
            position += len(central) + _OFFSET.size + len(name)
            offset += len(local) + len(member.compressed)
        return cls(b"".join(local_parts), b"".join(central_parts), len(members), tuple(offsets))

    @property
    def footprint(self) -> int:
        """Return the bytes the run takes in a ZIP: its local records, data, central records."""
        return len(self.local) + len(self.central)

    @cached_property
    def local_hash(self) -> hashlib._Hash:
        """Return a SHA-256 object fed with the local block, made once: a ZIP that starts with
        this run copies it and hashes only the rest (the block is most of the ZIP).
        """
        return hashlib.sha256(self.local)

    @cached_property
    def local_sha256(self) -> str:
        """Return the hex SHA-256 of the local block: its name where kept builds share it."""
        return self.local_hash.hexdigest()

    def central_at(self, start: int) -> bytes:
        """Return the run's central records for a run whose first local record is at `start`."""
        if start == 0:
            return self.central
        moved = bytearray(self.central)
        for position, offset in self.offsets:
            _OFFSET.pack_into(moved, position, start + offset)
        return bytes(moved)


ZipPart = ZipMember | MemberRun


def zip_size(parts: Sequence[ZipPart]) -> int:
    """Given the members and runs, return how many bytes `write_zip` will produce for them."""
    return _END.size + sum(part.footprint for part in parts)


def write_zip(parts: Sequence[ZipPart], origin: str, size: int | None = None) -> bytes:
    """Given the members and runs of members in the order to write them, the package origin
    and, if the caller has it, what `zip_size` gave for them, return the ZIP.

    Raise `PackageTooLargeError` if it would need ZIP64 (more than 65,535 entries or 4 GiB).
    """
    return b"".join(zip_pieces(parts, origin, size))


def zip_pieces(parts: Sequence[ZipPart], origin: str, size: int | None = None) -> tuple[bytes, ...]:
    """Given what `write_zip` takes, return the ZIP as pieces to be written one after another:
    each run's local block as it is (shared, not copied), each own member's records, then the
    central directory and the end record. Raise as `write_zip` does.
    """
    if size is None:
        size = zip_size(parts)
    count = sum(part.count if isinstance(part, MemberRun) else 1 for part in parts)
    if count > _MAX_ENTRIES or size > _MAX_FIELD:
        raise PackageTooLargeError(
            f"{describe(origin)}: {count:,} entries and {size:,} bytes "
            "need ZIP64, which a Static Resource never should"
        )
    pieces: list[bytes] = []
    central_parts: list[bytes] = []
    offset = 0
    pack_offset = _OFFSET.pack
    for part in parts:
        if isinstance(part, MemberRun):
            pieces.append(part.local)
            central_parts.append(part.central_at(offset))
            offset += len(part.local)
            continue
        local, central, name = part.records
        pieces += (local, part.compressed)
        central_parts += (central, pack_offset(offset), name)
        offset += len(local) + len(part.compressed)
    central_directory = b"".join(central_parts)
    end = _END.pack(b"PK\x05\x06", 0, 0, count, count, len(central_directory), offset, 0)
    pieces += (central_directory, end)
    return tuple(pieces)


def shared_pieces(parts: Sequence[ZipPart]) -> tuple[tuple[int, str], ...]:
    """Given what `zip_pieces` takes, return where each run's local block sits among the pieces
    it returns, with the block's SHA-256 hex.
    """
    shared: list[tuple[int, str]] = []
    index = 0
    for part in parts:
        if isinstance(part, MemberRun):
            shared.append((index, part.local_sha256))
            index += 1
        else:
            index += 2  # its local record, then its data
    return tuple(shared)
