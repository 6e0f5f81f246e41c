"""The layout file of a build kept in parts: the order of its parts, which of them are blocks
shared with other kept builds (by hash), and the build's own bytes.

    sfsync-kept-build 1
    own 130
    block 3f…(64 hex) 2061334
    own 24170
    <blank line>
    <the own parts' bytes, one after another>
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAGIC = b"sfsync-kept-build 1\n"
# A shared piece smaller than this is kept inside the layout file: a file and a link for it
# would cost more than the bytes they save.
MIN_BLOCK_BYTES = 64 * 1024
_BLOCK_LINE = re.compile(rb"block ([0-9a-f]{64}) (\d+)")
_OWN_LINE = re.compile(rb"own (\d+)")


@dataclass(frozen=True)
class KeptPart:
    """One part of a kept build: a shared block (by its hash) or bytes of the build's own."""

    block: str | None  # SHA-256 hex of a shared block; None for own bytes
    pieces: tuple[bytes, ...]  # what it joins from (empty when read back from the layout)
    size: int


def plan_parts(pieces: Sequence[bytes], shared: Mapping[int, str]) -> tuple[KeptPart, ...]:
    """Given a build's pieces and the hash of each piece shared with other builds (by index),
    return its parts: each shared piece of at least MIN_BLOCK_BYTES a block, the pieces between
    them joined into one own part.
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
            parts.append(KeptPart(block, (piece,), len(piece)))
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
            parts.append(KeptPart(block[1].decode(), (), int(block[2])))
        elif mine is not None:
            parts.append(KeptPart(None, (), int(mine[1])))
        else:
            raise ValueError(f"unreadable part line {line[:80]!r}")
    expected = sum(part.size for part in parts if part.block is None)
    if expected != len(own):
        raise ValueError(f"{len(own):,} bytes of its own where the parts say {expected:,}")
    return tuple(parts), own
