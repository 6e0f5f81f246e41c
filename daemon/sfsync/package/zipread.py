"""Read the files of a published ZIP without trusting anything its headers claim.

`zipfile` only parses the central directory here, and only once `zipend` has checked its size
and entry count from the archive's tail. Each entry's local header is checked against
it, and its data is inflated in bounded chunks while the real bytes are counted, so a lying
size, a bomb (by size, count or ratio) or a damaged stream is refused before it costs memory.
"""

from __future__ import annotations

import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from sfsync.files import SPECIAL_FILE_KINDS
from sfsync.package.collect import PackageCollector
from sfsync.package.errors import (
    ArchiveLimitError,
    CorruptArchiveError,
    EncryptedEntryError,
    LinkOrSpecialFileError,
    NotAZipError,
    SizeMismatchError,
    TruncatedArchiveError,
    UnsafePathError,
    UnsupportedCompressionError,
    describe,
    link_or_special_reason,
)
from sfsync.package.limits import PackageLimits
from sfsync.package.paths import normalise_entry_name
from sfsync.package.zipend import check_zip_tail

CHUNK_BYTES = 64 * 1024
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_FLAG_ENCRYPTED = 0x0001
_FLAG_DATA_DESCRIPTOR = 0x0008
_FLAG_STRONG_ENCRYPTION = 0x0040
_FLAG_UTF8 = 0x0800
_SYSTEM_UNIX = 3
_DOS_REPARSE_POINT = 0x0400  # how Windows tools mark a symbolic link
_ZIP64_MARKER = 0xFFFFFFFF
_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    9: "deflate64",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
    93: "zstandard",
    99: "AES encryption",
}
# What zipfile raises on input it cannot parse; none of it may escape as anything but a
# PackageError, however hostile the bytes.
_PARSE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    ValueError,
    OSError,
    EOFError,
    struct.error,
    OverflowError,
)


@dataclass(frozen=True)
class _Entry:
    """One central-directory entry, with where its data starts once the local header is read."""

    info: zipfile.ZipInfo
    name: str
    data_start: int


def read_zip_entries(stream: IO[bytes], origin: str, limits: PackageLimits) -> dict[str, bytes]:
    """Given a seekable binary stream holding a ZIP, its origin (for messages) and the limits,
    return its files as normalised path -> content, junk dropped.

    Raise a `PackageError` subclass naming the entry for anything unsafe, damaged or over a
    limit; nothing is returned unless every entry passed.
    """
    infos = _central_directory(stream, origin, limits)
    collector = PackageCollector(origin, limits)
    length = stream.seek(0, 2)
    named = [(info, _entry_name(info, origin)) for info in infos]
    for _, name in named:
        collector.count_entry(name)
    _check_declared_sizes(named, origin, limits)
    entries = [_locate(stream, info, name, origin, length) for info, name in named]
    _check_no_overlap(entries, origin)
    for entry in entries:
        _read_entry(stream, entry, collector)
    return collector.finish()


def _central_directory(
    stream: IO[bytes], origin: str, limits: PackageLimits
) -> list[zipfile.ZipInfo]:
    stream.seek(0)
    head = stream.read(4)
    if not head:
        raise NotAZipError(f"{describe(origin)}: empty file, not a ZIP archive")
    check_zip_tail(stream, origin, limits)
    try:
        with zipfile.ZipFile(stream) as archive:
            return archive.infolist()
    except zipfile.BadZipFile as error:
        if str(error) == "File is not a zip file":
            if head == _LOCAL_SIGNATURE:
                raise TruncatedArchiveError(
                    f"{describe(origin)}: starts like a ZIP but has no end-of-central-directory "
                    "record (truncated, or still being written)"
                ) from error
            raise NotAZipError(f"{describe(origin)}: not a ZIP archive") from error
        raise CorruptArchiveError(f"{describe(origin)}: damaged ZIP: {error}") from error
    except _PARSE_ERRORS as error:
        raise CorruptArchiveError(f"{describe(origin)}: damaged ZIP: {error!r}") from error


def _entry_name(info: zipfile.ZipInfo, origin: str) -> str:
    # zipfile truncates `filename` at a NUL; `orig_filename` keeps the name as stored.
    name = info.orig_filename
    if info.flag_bits & _FLAG_UTF8 or name.isascii():
        return name
    # Without the UTF-8 flag zipfile decodes as cp437, which maps every byte, so encoding back
    # recovers the stored bytes. Many tools store UTF-8 without setting the flag.
    try:
        return name.encode("cp437").decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnsafePathError(
            f"{describe(origin, name)}: name is neither ASCII nor UTF-8", entry=name
        ) from error


def _stored_name_bytes(info: zipfile.ZipInfo) -> bytes:
    if info.flag_bits & _FLAG_UTF8:
        return info.orig_filename.encode("utf-8", "surrogatepass")
    return info.orig_filename.encode("cp437")


def _check_declared_sizes(
    named: list[tuple[zipfile.ZipInfo, str]], origin: str, limits: PackageLimits
) -> None:
    # Refuse early on what the headers admit to; the same limits are enforced again on the real
    # bytes while inflating, since headers may lie.
    declared_total = 0
    for info, name in named:
        declared_total += info.file_size
        if declared_total > limits.max_expanded_bytes:
            raise ArchiveLimitError(
                f"{describe(origin, name)}: package declares more than "
                f"{limits.max_expanded_bytes:,} bytes (limit max_expanded_bytes)",
                entry=name,
            )
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise ArchiveLimitError(
                f"{describe(origin, name)}: declares a compression ratio over "
                f"{limits.max_ratio}:1 (limit max_ratio)",
                entry=name,
            )


def _check_kind(info: zipfile.ZipInfo, name: str, origin: str) -> None:
    def refuse_link(reason: str) -> LinkOrSpecialFileError:
        return LinkOrSpecialFileError(f"{describe(origin, name)}: {reason}", entry=name)

    if info.flag_bits & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION) or info.compress_type == 99:  # noqa: PLR2004
        raise EncryptedEntryError(f"{describe(origin, name)}: entry is encrypted", entry=name)
    if info.create_system == _SYSTEM_UNIX:
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK or kind in SPECIAL_FILE_KINDS:
            raise refuse_link(link_or_special_reason(kind))
        if kind == stat.S_IFDIR and not name.endswith("/"):
            raise CorruptArchiveError(
                f"{describe(origin, name)}: marked as a directory but named as a file",
                entry=name,
            )
    if info.external_attr & _DOS_REPARSE_POINT:
        raise refuse_link("symbolic link (Windows reparse point)")
    if info.compress_type not in {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}:
        method = _METHODS.get(info.compress_type, "unknown")
        raise UnsupportedCompressionError(
            f"{describe(origin, name)}: compression method {info.compress_type} ({method}) is "
            "not supported; only stored and deflate are",
            entry=name,
        )


def _locate(
    stream: IO[bytes], info: zipfile.ZipInfo, name: str, origin: str, length: int
) -> _Entry:
    def corrupt(reason: str) -> CorruptArchiveError:
        return CorruptArchiveError(f"{describe(origin, name)}: {reason}", entry=name)

    if info.header_offset < 0 or info.header_offset + _LOCAL_HEADER.size > length:
        raise TruncatedArchiveError(
            f"{describe(origin, name)}: local header lies past the end of the archive "
            "(truncated, or still being written)",
            entry=name,
        )
    stream.seek(info.header_offset)
    (signature, _, flags, method, _, _, crc, compressed, size, name_length, extra_length) = (
        _LOCAL_HEADER.unpack(stream.read(_LOCAL_HEADER.size))
    )
    if signature != _LOCAL_SIGNATURE:
        raise corrupt("no local file header where the central directory points")
    if stream.read(name_length) != _stored_name_bytes(info):
        raise corrupt("local header names a different file than the central directory")
    # Refuse on either header's say-so: a reader that trusts the other one would decrypt.
    if flags & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
        raise EncryptedEntryError(f"{describe(origin, name)}: entry is encrypted", entry=name)
    _check_kind(info, name, origin)
    if method != info.compress_type:
        raise corrupt("local header and central directory disagree on the compression method")
    if not flags & _FLAG_DATA_DESCRIPTOR:
        _check_local_agrees(info, name, origin, (crc, compressed, size))
    data_start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    if data_start + info.compress_size > length:
        raise TruncatedArchiveError(
            f"{describe(origin, name)}: data runs past the end of the archive "
            "(truncated, or still being written)",
            entry=name,
        )
    return _Entry(info=info, name=name, data_start=data_start)


def _check_local_agrees(
    info: zipfile.ZipInfo, name: str, origin: str, local: tuple[int, int, int]
) -> None:
    # Without a data descriptor the local header carries its own CRC and sizes; a reader that
    # trusts those instead of the central directory would see another file.
    crc, compressed, size = local
    if _ZIP64_MARKER not in {compressed, size} and (compressed, size) != (
        info.compress_size,
        info.file_size,
    ):
        raise SizeMismatchError(
            f"{describe(origin, name)}: local header declares {size:,} bytes "
            f"({compressed:,} compressed), central directory {info.file_size:,} "
            f"({info.compress_size:,})",
            entry=name,
        )
    if crc != info.CRC:
        raise CorruptArchiveError(
            f"{describe(origin, name)}: local header and central directory disagree on the CRC",
            entry=name,
        )


def _check_no_overlap(entries: list[_Entry], origin: str) -> None:
    # Entries sharing data is how the densest zip bombs multiply one compressed kernel.
    previous: _Entry | None = None
    for entry in sorted(entries, key=lambda item: item.info.header_offset):
        if previous is not None and entry.info.header_offset < (
            previous.data_start + previous.info.compress_size
        ):
            raise CorruptArchiveError(
                f"{describe(origin, entry.name)}: overlaps the data of entry {previous.name!r} "
                "(a zip-bomb technique)",
                entry=entry.name,
            )
        previous = entry


def _read_entry(stream: IO[bytes], entry: _Entry, collector: PackageCollector) -> None:
    info, name, origin = entry.info, entry.name, collector.origin
    path = normalise_entry_name(name, origin)
    if name.endswith("/"):
        if info.file_size:
            raise SizeMismatchError(
                f"{describe(origin, name)}: directory entry declares {info.file_size:,} bytes "
                "of content",
                entry=name,
            )
        collector.add_directory(name, path)
        return
    if not path:
        raise UnsafePathError(
            f"{describe(origin, name)}: file entry with an empty path", entry=name
        )
    content = _expand(stream, entry, collector)
    collector.add_file(name, path, content)


def _expand(stream: IO[bytes], entry: _Entry, collector: PackageCollector) -> bytes:
    info, name, origin, limits = entry.info, entry.name, collector.origin, collector.limits
    pieces: list[bytes] = []
    produced = 0
    crc = 0
    for piece, consumed in _inflate(stream, entry, origin):
        produced += len(piece)
        if produced > info.file_size:
            raise SizeMismatchError(
                f"{describe(origin, name)}: holds more than the {info.file_size:,} bytes its "
                "header declares",
                entry=name,
            )
        collector.spend(name, len(piece))
        if produced > limits.ratio_floor_bytes and produced > limits.max_ratio * max(consumed, 1):
            raise ArchiveLimitError(
                f"{describe(origin, name)}: expands more than {limits.max_ratio}:1 "
                "(limit max_ratio)",
                entry=name,
            )
        crc = zlib.crc32(piece, crc)
        pieces.append(piece)
    if produced != info.file_size:
        raise SizeMismatchError(
            f"{describe(origin, name)}: holds {produced:,} bytes, its header declares "
            f"{info.file_size:,}",
            entry=name,
        )
    if crc != info.CRC:
        raise CorruptArchiveError(f"{describe(origin, name)}: CRC-32 mismatch", entry=name)
    return b"".join(pieces)


def _inflate(stream: IO[bytes], entry: _Entry, origin: str) -> Iterator[tuple[bytes, int]]:
    """Yield (output piece, compressed bytes consumed so far), each piece at most a chunk."""
    stream.seek(entry.data_start)
    if entry.info.compress_type == zipfile.ZIP_STORED:
        return _unstore(stream, entry, origin)
    return _undeflate(stream, entry, origin)


def _unstore(stream: IO[bytes], entry: _Entry, origin: str) -> Iterator[tuple[bytes, int]]:
    info, name = entry.info, entry.name
    if info.compress_size != info.file_size:
        raise SizeMismatchError(
            f"{describe(origin, name)}: stored entry declares {info.file_size:,} bytes but "
            f"{info.compress_size:,} stored",
            entry=name,
        )
    remaining = info.compress_size
    while remaining:
        piece = _read_some(stream, remaining, entry, origin)
        remaining -= len(piece)
        yield piece, info.compress_size - remaining


def _undeflate(stream: IO[bytes], entry: _Entry, origin: str) -> Iterator[tuple[bytes, int]]:
    info, name = entry.info, entry.name
    remaining = info.compress_size
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        while remaining and not decompressor.eof:
            pending = _read_some(stream, remaining, entry, origin)
            remaining -= len(pending)
            while pending and not decompressor.eof:
                piece = decompressor.decompress(pending, CHUNK_BYTES)
                pending = decompressor.unconsumed_tail
                yield piece, info.compress_size - remaining - len(pending)
        # Output zlib still holds back after the last input, drained a chunk at a time.
        while not decompressor.eof:
            piece = decompressor.decompress(b"", CHUNK_BYTES)
            if not piece:
                break
            yield piece, info.compress_size
    except zlib.error as error:
        raise CorruptArchiveError(
            f"{describe(origin, name)}: invalid deflate data ({error})", entry=name
        ) from error
    if not decompressor.eof:
        raise CorruptArchiveError(
            f"{describe(origin, name)}: deflate stream ends before its end marker", entry=name
        )
    if remaining or decompressor.unused_data or decompressor.unconsumed_tail:
        raise SizeMismatchError(
            f"{describe(origin, name)}: deflate stream ends before its declared "
            f"{info.compress_size:,} compressed bytes",
            entry=name,
        )


def _read_some(stream: IO[bytes], remaining: int, entry: _Entry, origin: str) -> bytes:
    data = stream.read(min(CHUNK_BYTES, remaining))
    if not data:
        # The length was checked up front, so only a file shrinking under us gets here.
        raise TruncatedArchiveError(
            f"{describe(origin, entry.name)}: archive ended while reading this entry",
            entry=entry.name,
        )
    return data
