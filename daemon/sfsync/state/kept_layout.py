"""The layout file of a build kept in parts: the order of its parts, which of them are blocks
shared with other kept builds (by hash), and the build's own bytes.

    sfsync-kept-build 1
    own 130
    block 3f…(64 hex) 2061334
    own 24170
    block 9c…(64 hex) 110213 moved 1604
    own 22
    <blank line>
    <the own parts' bytes, one after another>

A block `moved` by N holds ZIP central records whose member offsets are N lower than this
build's: a run of published members starts N bytes further in here than where its records
were made, behind the connector's own entries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

MAGIC = b"sfsync-kept-build 1\n"
# A shared piece smaller than this is kept inside the layout file: the file system's block
# that file takes anyway holds it, so a block file and a link would save nothing. (64 KiB
# kept a 2 MB package's second run of central records, 27 KB, in every build's layout.)
MIN_BLOCK_BYTES = 4 * 1024
_BLOCK_LINE = re.compile(rb"block ([0-9a-f]{64}) (\d+)(?: moved (\d+))?")
_OWN_LINE = re.compile(rb"own (\d+)")


class SharedBytes(Protocol):
    """A piece of a build made from bytes other builds share: `base` itself, or `base` moved
    by `shift` (`package.zipwrite.SharedPiece` is one).
    """

    @property
    def index(self) -> int:
        """Where the piece is among the build's pieces."""

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of `base`: the block's name."""

    @property
    def base(self) -> bytes:
        """The shared bytes, as kept."""

    @property
    def shift(self) -> int:
        """How far the piece's records are moved from `base`'s (0: the piece is `base`)."""


# Given a block's bytes and how far they were moved, return the build's piece: the archive
# keeps bytes, and what moving means (a ZIP's central records) is the package's to say.
MoveRecords = Callable[[bytes, int], bytes]


@dataclass(frozen=True)
class KeptPart:
    """One part of a kept build: a shared block (by its hash) or bytes of the build's own."""

    block: str | None  # SHA-256 hex of a shared block; None for own bytes
    pieces: tuple[bytes, ...]  # its bytes, a block's as made (none when read from a layout)
    size: int
    moved: int = 0  # added to the offset of each central record in the block (see above)


def plan_parts(pieces: Sequence[bytes], shared: Mapping[int, SharedBytes]) -> tuple[KeptPart, ...]:
    """Given a build's pieces and what each piece shared with other builds is made from (by
    index), return its parts: each shared piece of at least MIN_BLOCK_BYTES a block, the
    pieces between them joined into one own part.
    """
    parts: list[KeptPart] = []
    own: list[bytes] = []

    def close_own() -> None:
        if own:
            parts.append(KeptPart(None, tuple(own), sum(len(piece) for piece in own)))
            own.clear()

    for index, piece in enumerate(pieces):
        block = shared.get(index)
        if block is not None and len(piece) >= MIN_BLOCK_BYTES:
            close_own()
            parts.append(KeptPart(block.sha256, (block.base,), len(piece), block.shift))
        elif piece:
            own.append(piece)
    close_own()
    return tuple(parts)


def encode_layout(parts: Sequence[KeptPart]) -> list[bytes]:
    """Given a build's parts, return its layout file as pieces to write one after another."""
    lines = [MAGIC]
    for part in parts:
        if part.block is None:
            lines.append(b"own %d\n" % part.size)
        elif part.moved:
            lines.append(b"block %s %d moved %d\n" % (part.block.encode(), part.size, part.moved))
        else:
            lines.append(b"block %s %d\n" % (part.block.encode(), part.size))
    lines.append(b"\n")
    return lines + [piece for part in parts if part.block is None for piece in part.pieces]


def decode_layout(data: bytes) -> tuple[tuple[KeptPart, ...], bytes]:
    """Given a layout file's bytes, return the build's parts (without their bytes) and its own
    bytes, the own parts' one after another.

    Raise ValueError saying what is wrong if the file is not a whole layout.
    """
    if not data.startswith(MAGIC):
        raise ValueError("not a kept-build layout (its first line is wrong)")
    rest = data[len(MAGIC) :]
    if rest.startswith(b"\n"):  # no parts
        head, own = b"", rest[1:]
    else:
        head, blank, own = rest.partition(b"\n\n")
        if not blank:
            raise ValueError("the layout's part list does not end")
    parts: list[KeptPart] = []
    for line in head.split(b"\n") if head else ():
        block = _BLOCK_LINE.fullmatch(line)
        mine = _OWN_LINE.fullmatch(line)
        if block is not None:
            parts.append(KeptPart(block[1].decode(), (), int(block[2]), int(block[3] or 0)))
        elif mine is not None:
            parts.append(KeptPart(None, (), int(mine[1])))
        else:
            raise ValueError(f"unreadable part line {line[:80]!r}")
    expected = sum(part.size for part in parts if part.block is None)
    if expected != len(own):
        raise ValueError(f"{len(own):,} bytes of its own where the parts say {expected:,}")
    return tuple(parts), own
