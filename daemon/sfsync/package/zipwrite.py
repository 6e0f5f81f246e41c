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
# Where a central record's name, extra field and comment lengths sit, and its member's offset.
_CENTRAL_LENGTHS = struct.Struct("<HHH")
_CENTRAL_LENGTHS_AT = 28
_CENTRAL_OFFSET_AT = 42
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

    @cached_property
    def central_sha256(self) -> str:
        """Return the hex SHA-256 of the central records as made (offsets from the run's
        start): their name where kept builds share them, moved or not.
        """
        return hashlib.sha256(self.central).hexdigest()

    def central_at(self, start: int) -> bytes:
        """Return the run's central records for a run whose first local record is at `start`."""
        if start == 0:
            return self.central
        moved = bytearray(self.central)
        for position, offset in self.offsets:
            _OFFSET.pack_into(moved, position, start + offset)
        return bytes(moved)


ZipPart = ZipMember | MemberRun


@dataclass(frozen=True)
class SharedPiece:
    """A piece of a connector's ZIP made from bytes every connector of the publish shares:
    `base` itself (a run's local block, or its central records when the run starts the ZIP),
    or `base`'s central records with each member's offset moved by `shift` (a run further in,
    behind the connector's own entries). Kept builds keep `base` once, by its hash.
    """

    index: int  # in the pieces `zip_pieces` returns
    sha256: str  # of `base`
    base: bytes
    shift: int = 0


def move_central(records: bytes, shift: int) -> bytes:
    """Given central directory records and a shift, return them with each member's offset
    moved by `shift`, as `MemberRun.central_at` makes them.

    Raise ValueError saying where if they are not whole central records or an offset would
    leave the 32-bit field.
    """
    moved = bytearray(records)
    fixed = _CENTRAL_HEAD.size + _OFFSET.size  # a record's bytes before its name
    position = 0
    while position < len(moved):
        if moved[position : position + 4] != b"PK\x01\x02" or position + fixed > len(moved):
            raise ValueError(f"no central record at byte {position:,}")
        name, extra, comment = _CENTRAL_LENGTHS.unpack_from(moved, position + _CENTRAL_LENGTHS_AT)
        (offset,) = _OFFSET.unpack_from(moved, position + _CENTRAL_OFFSET_AT)
        if not 0 <= offset + shift <= _MAX_FIELD:
            raise ValueError(f"the central record at byte {position:,} cannot move by {shift:,}")
        _OFFSET.pack_into(moved, position + _CENTRAL_OFFSET_AT, offset + shift)
        position += fixed + name + extra + comment
    if position != len(moved):
        overrun = position - len(moved)
        raise ValueError(f"the last central record runs {overrun:,} bytes past the end")
    return bytes(moved)


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
    central directory (each run's records a piece of their own) and the end record. Raise as
    `write_zip` does.
    """
    return zip_pieces_shared(parts, origin, size)[0]


def zip_pieces_shared(
    parts: Sequence[ZipPart], origin: str, size: int | None = None
) -> tuple[tuple[bytes, ...], tuple[SharedPiece, ...]]:
    """Given what `write_zip` takes, return `zip_pieces`' pieces and which of them are made
    from bytes every ZIP of the runs shares: each run's local block, and each run's central
    records (moved to where the run starts). Raise as `write_zip` does.
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
    shared: list[SharedPiece] = []
    # The central directory, as runs (with where each starts) and own records in between.
    central: list[tuple[MemberRun, int] | bytes] = []
    offset = 0
    pack_offset = _OFFSET.pack
    for part in parts:
        if isinstance(part, MemberRun):
            shared.append(SharedPiece(len(pieces), part.local_sha256, part.local))
            pieces.append(part.local)
            central.append((part, offset))
            offset += len(part.local)
            continue
        local, records, name = part.records
        pieces += (local, part.compressed)
        central += (records, pack_offset(offset), name)
        offset += len(local) + len(part.compressed)
    directory_size = 0
    own: list[bytes] = []
    for item in [*central, None]:
        if isinstance(item, bytes):
            own.append(item)
            continue
        if own:  # the own records since the last run, as one piece
            pieces.append(b"".join(own))
            directory_size += len(pieces[-1])
            own.clear()
        if item is not None:
            run, start = item
            shared.append(SharedPiece(len(pieces), run.central_sha256, run.central, start))
            pieces.append(run.central_at(start))
            directory_size += len(run.central)
    end = _END.pack(b"PK\x05\x06", 0, 0, count, count, directory_size, offset, 0)
    pieces.append(end)
    return tuple(pieces), tuple(shared)
