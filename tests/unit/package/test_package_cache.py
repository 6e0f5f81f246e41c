"""Compression reuse: within a build, across connectors and across builds, from a cache that is
never trusted blindly.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any

import pytest

from sfsync.package.build import BuildOptions, build_package
from sfsync.package.cache import DirectoryCompressionCache, MemoryCompressionCache
from sfsync.package.compress import cache_key, compress_entries, deflate, inflates_to
from sfsync.package.read import PublishedPackage

FILES = {
    "settings.json": b'{"active": true}',
    "a.js": b"alert(1);\n" * 500,
    "b.js": b"alert(2);\n" * 500,
    "copy-of-a.js": b"alert(1);\n" * 500,
    "big.css": b".x { color: red }\n" * 40_000,
}


class CountingCompressor:
    """A compressor that records what it was asked to compress."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, content: bytes) -> bytes:
        self.calls.append(content)
        return deflate(content)


def options(connector: str, overrides: dict[str, Any]) -> BuildOptions:
    """Return build options for a connector with the given overrides."""
    return BuildOptions(
        connector=connector, overrides=overrides, source_version="v1", sfsync_version="0.1.0"
    )


def test_identical_contents_are_compressed_once_per_build():
    """Two files with the same content cost one compression."""
    compressor = CountingCompressor()
    package = PublishedPackage(files=FILES, origin="p")
    build_package(package, options("lightning/sandbox", {}), compressor=compressor)
    assert len(compressor.calls) == len(FILES)  # 5 files, one duplicate, plus the manifest


def test_second_connector_compresses_only_settings_and_manifest():
    """With a shared cache, another connector's build compresses just its settings and manifest."""
    cache = MemoryCompressionCache()
    package = PublishedPackage(files=FILES, origin="p")
    first = CountingCompressor()
    build_package(package, options("lightning/sandbox", {"active": False}), cache, compressor=first)
    second = CountingCompressor()
    built = build_package(
        package, options("lightning/production", {"active": True}), cache, compressor=second
    )
    assert len(second.calls) == 2
    assert b'"active": true' in second.calls[0] + second.calls[1]
    assert any(b"lightning/production" in call for call in second.calls)
    uncached = build_package(package, options("lightning/production", {"active": True}))
    assert built.data == uncached.data


def test_warm_directory_cache_across_builds(tmp_path):
    """A new build process with the same directory cache compresses only the manifest."""
    package = PublishedPackage(files=FILES, origin="p")
    build_package(package, options("lightning/sandbox", {}), DirectoryCompressionCache(tmp_path))
    compressor = CountingCompressor()
    build_package(
        package,
        options("lightning/sandbox", {}),
        DirectoryCompressionCache(tmp_path),
        compressor=compressor,
    )
    assert compressor.calls == []  # even the manifest is the same bytes as before


def test_corrupt_or_foreign_cache_entries_are_ignored(tmp_path):
    """A cache file that does not inflate to the content is recompressed, not used."""
    cache = DirectoryCompressionCache(tmp_path)
    package = PublishedPackage(files=FILES, origin="p")
    clean = build_package(package, options("lightning/sandbox", {}))
    for index, content in enumerate(FILES.values()):
        key = cache_key(hashlib.sha256(content).hexdigest())
        poison = [b"garbage", deflate(b"other content"), deflate(content)[:-3], b""][index % 4]
        cache.put(key, poison)
    compressor = CountingCompressor()
    built = build_package(package, options("lightning/sandbox", {}), cache, compressor=compressor)
    assert built.data == clean.data
    assert len(compressor.calls) == 5  # four distinct poisoned contents and the manifest
    for content in FILES.values():
        stored = cache.get(cache_key(hashlib.sha256(content).hexdigest()))
        assert stored is not None
        assert inflates_to(stored, content)


def test_corrupted_pack_on_disk_is_not_trusted(tmp_path):
    """Bytes flipped inside a pack on disk cost a recompression, never a wrong package."""
    package = PublishedPackage(files=FILES, origin="p")
    clean = build_package(
        package, options("lightning/sandbox", {}), DirectoryCompressionCache(tmp_path)
    )
    (pack,) = tmp_path.glob("pack-*.bin")
    data = bytearray(pack.read_bytes())
    for position in range(60, len(data), 97):
        data[position] ^= 0x55
    pack.write_bytes(bytes(data))
    compressor = CountingCompressor()
    built = build_package(
        package,
        options("lightning/sandbox", {}),
        DirectoryCompressionCache(tmp_path),
        compressor=compressor,
    )
    assert built.data == clean.data
    assert compressor.calls


def test_directory_cache_writes_private_packs_atomically(tmp_path):
    """flush writes one pack of mode 0600 in a 0700 folder, leaving no temporary file."""
    cache = DirectoryCompressionCache(tmp_path / "cache")
    cache.put("abc123", b"stream")
    cache.put("def456", b"other")
    assert list((tmp_path).iterdir()) == []  # nothing is written before flush
    cache.flush()
    (pack,) = (tmp_path / "cache").iterdir()
    assert pack.name.startswith("pack-")
    assert stat.S_IMODE(pack.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    fresh = DirectoryCompressionCache(tmp_path / "cache")
    assert fresh.get("abc123") == b"stream"
    assert fresh.get("def456") == b"other"


def test_directory_cache_flush_goes_through_a_rename(tmp_path, monkeypatch):
    """flush writes a temporary file and renames it into place, so readers never see half."""
    replaced: list[tuple[str, str]] = []
    real_replace = type(tmp_path).replace

    def spy(self, target):
        replaced.append((self.name, os.fspath(target)))
        return real_replace(self, target)

    monkeypatch.setattr(type(tmp_path), "replace", spy)
    cache = DirectoryCompressionCache(tmp_path)
    cache.put("abc123", b"stream")
    cache.flush()
    assert len(replaced) == 1
    assert replaced[0][0].startswith(".tmp-")
    assert os.path.basename(replaced[0][1]).startswith("pack-")  # noqa: PTH119


def test_directory_cache_skips_links_oversized_foreign_and_cut_packs(tmp_path):
    """A symlinked, oversized or foreign pack is skipped; a cut one keeps its whole records."""
    writer = DirectoryCompressionCache(tmp_path / "source")
    writer.put("first", b"1" * 10)
    writer.put("second", b"2" * 10)
    writer.flush()
    (pack,) = (tmp_path / "source").glob("pack-*.bin")
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "pack-cut.bin").write_bytes(pack.read_bytes()[:-3])
    assert DirectoryCompressionCache(cut).get("first") == b"1" * 10
    assert DirectoryCompressionCache(cut).get("second") is None
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "pack-link.bin").symlink_to(pack)
    assert DirectoryCompressionCache(linked).get("first") is None
    assert DirectoryCompressionCache(tmp_path / "source", max_pack_bytes=10).get("first") is None
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "pack-x.bin").write_bytes(b"PK\x03\x04 not a pack")
    assert DirectoryCompressionCache(foreign).get("first") is None
    assert DirectoryCompressionCache(tmp_path / "missing").get("first") is None


def test_directory_cache_compacts_to_what_was_used(tmp_path):
    """Past max_packs, a flush rewrites the entries used into one pack and drops the rest."""
    old = DirectoryCompressionCache(tmp_path)
    old.put("stale", b"s")
    old.flush()
    cache = DirectoryCompressionCache(tmp_path, max_packs=2)
    for index in range(3):
        cache.put(f"k{index}", b"x")
        cache.flush()
    assert len(list(tmp_path.glob("pack-*.bin"))) <= 2
    fresh = DirectoryCompressionCache(tmp_path)
    assert [fresh.get(f"k{index}") for index in range(3)] == [b"x"] * 3
    assert fresh.get("stale") is None


def test_directory_cache_unload_drops_memory_and_reads_the_packs_again(tmp_path):
    """After unload, an entry comes from its pack on disk again (a removed pack: gone), and
    what was put but not yet flushed is written first.
    """
    cache = DirectoryCompressionCache(tmp_path)
    cache.put("flushed", b"f")
    cache.flush()
    cache.put("pending", b"p")
    cache.unload()
    assert cache.get("flushed") == b"f"
    assert cache.get("pending") == b"p"
    for pack in tmp_path.glob("pack-*.bin"):
        pack.unlink()
    assert cache.get("flushed") == b"f"  # still held from the read after the unload
    cache.unload()
    assert cache.get("flushed") is None
    assert cache.get("pending") is None


def test_unwritable_directory_cache_keeps_pending_entries_through_unload(tmp_path):
    """Entries that could not be written stay in memory: unload does not lose them."""
    (tmp_path / "file").write_bytes(b"")
    cache = DirectoryCompressionCache(tmp_path / "file" / "cache")
    cache.put("pending", b"p")
    cache.unload()
    assert cache.get("pending") == b"p"


def test_memory_cache_keeps_its_entries_through_unload():
    """The memory cache has nowhere else to keep entries: unload forgets nothing."""
    cache = MemoryCompressionCache()
    cache.put("a", b"1")
    cache.unload()
    assert cache.get("a") == b"1"


def test_directory_cache_refuses_keys_that_are_not_plain_names(tmp_path):
    """A key with path characters or spaces is a programming error."""
    with pytest.raises(ValueError, match="not a plain name"):
        DirectoryCompressionCache(tmp_path).get("../escape")


def test_unwritable_cache_does_not_fail_the_build(tmp_path):
    """A cache directory that cannot be created only means nothing is cached."""
    (tmp_path / "file").write_bytes(b"")
    cache = DirectoryCompressionCache(tmp_path / "file" / "cache")
    package = PublishedPackage(files=FILES, origin="p")
    assert build_package(package, options("lightning/sandbox", {}), cache).size > 0


def test_memory_cache_is_bounded_and_forgets_the_oldest():
    """The memory cache keeps at most max_bytes, evicting the least recently used."""
    cache = MemoryCompressionCache(max_bytes=10)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == b"1234"  # now most recently used
    cache.put("c", b"1234")
    assert cache.get("b") is None
    assert cache.get("a") == b"1234"
    cache.put("huge", b"x" * 11)
    assert cache.get("huge") is None


def test_parallel_and_serial_compression_agree():
    """Compressing across threads gives the same streams as compressing one by one."""
    contents = {str(index): os.urandom(50_000) + bytes(100_000) for index in range(8)}
    parallel = compress_entries(contents, None, workers=2)
    serial = compress_entries(contents, None, workers=1)
    assert parallel == serial
