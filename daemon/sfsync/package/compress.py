"""Compress each distinct content once, reusing raw deflate streams from a cache.

Python's zipfile cannot take a stream compressed elsewhere, which is why `zipwrite` writes the
ZIP structures itself. zlib releases the GIL while compressing, so threads use every core.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from sfsync.package.cache import CompressionCache

COMPRESSION_LEVEL = 9  # the 5 MB limit binds before build time does, and the cache pays once
DEFAULT_WORKERS = 2
# Below this much work, starting threads costs more than it saves.
PARALLEL_THRESHOLD_BYTES = 256 * 1024

Compressor = Callable[[bytes], bytes]


def deflate(content: bytes) -> bytes:
    """Given content, return its raw deflate stream (no zlib header) at COMPRESSION_LEVEL."""
    return zlib.compress(content, COMPRESSION_LEVEL, -zlib.MAX_WBITS)


def cache_key(content_sha256: str, level: int = COMPRESSION_LEVEL) -> str:
    """Given a content's hex SHA-256 and the compression level, return its cache key.

    The zlib version is part of the key: another zlib may compress the same content to other
    bytes, and mixing the two would make equal builds differ between hosts.
    """
    return f"{content_sha256}.deflate{level}.zlib{zlib.ZLIB_RUNTIME_VERSION}"


def inflates_to(compressed: bytes, content: bytes) -> bool:
    """Given a raw deflate stream and the content it should hold, return whether it does."""
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        # Bounded, so a foreign file cannot inflate into much more than the content.
        output = decompressor.decompress(compressed, len(content) + 1)
    except zlib.error:
        return False
    return (
        decompressor.eof
        and not decompressor.unused_data
        and not decompressor.unconsumed_tail
        and output == content
    )


def compress_entries(
    contents: Mapping[str, bytes],
    cache: CompressionCache | None,
    compressor: Compressor = deflate,
    workers: int = DEFAULT_WORKERS,
    *,
    flush: bool = True,
) -> dict[str, bytes]:
    """Given contents by hex SHA-256, a cache (or None), a compressor and a thread count, return
    the raw deflate stream of each content by the same key.

    A cached stream is used only if it inflates back to the content (checked once per stored
    stream: the cache remembers which passed); whatever had to be compressed is put into it,
    and the cache is flushed unless `flush` is false (a caller about to put more flushes once).
    """
    compressed: dict[str, bytes] = {}
    misses: list[str] = []
    for digest, content in contents.items():
        key = cache_key(digest)
        cached = cache.get_checked(key, content, inflates_to) if cache is not None else None
        if cached is not None:
            compressed[digest] = cached
        else:
            misses.append(digest)
    fresh = _compress_all([contents[digest] for digest in misses], compressor, workers)
    for digest, stream in zip(misses, fresh, strict=True):
        compressed[digest] = stream
        if cache is not None:
            cache.put(cache_key(digest), stream)
    if cache is not None and flush:
        cache.flush()
    return compressed


def _compress_all(contents: Sequence[bytes], compressor: Compressor, workers: int) -> list[bytes]:
    if workers <= 1 or sum(map(len, contents)) < PARALLEL_THRESHOLD_BYTES:
        return [compressor(content) for content in contents]
    # One batch per thread, balanced by size, largest first: thousands of small files would
    # spend more on futures than on deflate if submitted one by one.
    batches: list[list[int]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for index in sorted(range(len(contents)), key=lambda item: -len(contents[item])):
        lightest = loads.index(min(loads))
        batches[lightest].append(index)
        loads[lightest] += len(contents[index])

    def run(batch: list[int]) -> list[tuple[int, bytes]]:
        return [(index, compressor(contents[index])) for index in batch]

    results: list[bytes] = [b""] * len(contents)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for batch_result in pool.map(run, batches):
            for index, stream in batch_result:
                results[index] = stream
    return results
