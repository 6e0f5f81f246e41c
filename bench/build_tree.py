"""Benchmark the package builder on a realistic tree and compare it with `zip -X -r -9`.

Generates a seeded 3,000-file, ~4 MB package (mostly JS/CSS/JSON/HTML text, a few
incompressible images) in a temporary directory, then times a cold build (empty cache), a warm
build, a rebuild after one file changed, a second connector, and Info-ZIP on the same tree.
Each time is the best of several runs and covers reading the tree, building and writing the
ZIP. Nothing is written into the repository.

Run: .venv/bin/python bench/build_tree.py
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sfsync.package.build import BuildOptions, BuiltPackage, build_package
from sfsync.package.cache import DirectoryCompressionCache
from sfsync.package.compress import deflate
from sfsync.package.limits import PackageLimits
from sfsync.package.read import read_tree

SEED = 20240601
FILE_COUNT = 3000
IMAGE_COUNT = 24
RUNS = 3
EXTENSIONS = ["js", "js", "js", "css", "json", "html"]


def generate_tree(root: Path) -> int:
    """Given an empty directory, fill it with the benchmark package; return its size in bytes."""
    rng = random.Random(SEED)  # noqa: S311 -- reproducible test data, not secrets
    vocabulary = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 11)))
        for _ in range(600)
    ]
    total = 0
    folders = [f"{area}/{sub}" for area in ("lib", "player", "widgets", "i18n") for sub in "abcde"]
    for index in range(FILE_COUNT - IMAGE_COUNT - 1):
        extension = rng.choice(EXTENSIONS)
        size = int(min(rng.lognormvariate(6.8, 0.8), 40_000))
        content = _text(rng, vocabulary, extension, size)
        total += _write(root / rng.choice(folders) / f"f{index:04}.{extension}", content)
    for index in range(IMAGE_COUNT):
        total += _write(
            root / "img" / f"i{index:02}.png", rng.randbytes(rng.randint(8_000, 30_000))
        )
    settings = b'{"active": true, "power": {"fingers": 3, "hold": 2}, "appType": "hybrid"}\n'
    total += _write(root / "settings.json", settings)
    return total


def _text(rng: random.Random, vocabulary: list[str], extension: str, size: int) -> bytes:
    templates = {
        "js": "function {0}({1}, {2}) {{ return {1}.{3}({2}) || '{4}'; }}\n",
        "css": ".{0}-{1} {{ margin: {5}px; color: #{6:06x}; }}\n",
        "json": '  "{0}": {{"{1}": "{2} {3}", "n": {5}}},\n',
        "html": '<div class="{0} {1}"><span data-{2}="{3}">{4}</span></div>\n',
    }
    template = templates[extension]
    lines: list[str] = []
    length = 0
    while length < size:
        words = [rng.choice(vocabulary) for _ in range(5)]
        line = template.format(*words, rng.randint(0, 64), rng.randint(0, 0xFFFFFF))
        lines.append(line)
        length += len(line)
    return "".join(lines).encode()


def _write(path: Path, content: bytes) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return len(content)


class CountingCompressor:
    """The production compressor, counting how many contents it compressed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, content: bytes) -> bytes:
        self.count += 1
        return deflate(content)


def build(
    tree: Path, cache_root: Path, output: Path, overrides: dict[str, object]
) -> tuple[BuiltPackage, int]:
    """Read the tree, build it with the given cache and overrides, and write the ZIP."""
    compressor = CountingCompressor()
    options = BuildOptions(
        connector="lightning/sandbox" if not overrides else "lightning/production",
        overrides=overrides,
        source_version="bench",
        sfsync_version="bench",
    )
    package = read_tree(tree, PackageLimits())
    built = build_package(
        package, options, DirectoryCompressionCache(cache_root), compressor=compressor
    )
    output.write_bytes(built.data)
    return built, compressor.count


def best(
    runs: int, prepare: Callable[[], None], work: Callable[[], object]
) -> tuple[float, object]:
    """Run prepare then time work, runs times; return the best time and the first result (the
    one that met the cache in the state the case describes).
    """
    times: list[float] = []
    results: list[object] = []
    for _ in range(runs):
        prepare()
        start = time.perf_counter()
        results.append(work())
        times.append(time.perf_counter() - start)
    return min(times), results[0]


def main() -> None:
    """Generate the tree, time every case and print the table."""
    with tempfile.TemporaryDirectory(prefix="sfsync-bench-") as scratch:
        base = Path(scratch)
        tree, cache, output = base / "tree", base / "cache", base / "out.zip"
        size = generate_tree(tree)
        print(f"tree: {FILE_COUNT:,} files, {size:,} bytes (seed {SEED})\n")
        rows: list[tuple[str, float | None, str, str]] = []

        def clear_cache() -> None:
            shutil.rmtree(cache, ignore_errors=True)

        cold, result = best(RUNS, clear_cache, lambda: build(tree, cache, output, {}))
        rows.append(("cold build (empty cache)", cold, *_describe(result)))
        warm, result = best(RUNS, lambda: None, lambda: build(tree, cache, output, {}))
        rows.append(("warm build (cache full)", warm, *_describe(result)))
        changed = tree / "lib" / "a" / "changed.js"
        counter = iter(range(1_000_000))

        def change_one() -> None:
            changed.write_text(f"window.version = {next(counter)};\n" * 50)

        one, result = best(RUNS, change_one, lambda: build(tree, cache, output, {}))
        rows.append(("one file changed", one, *_describe(result)))
        second, result = best(
            RUNS, lambda: None, lambda: build(tree, cache, output, {"active": False})
        )
        rows.append(("second connector (overrides)", second, *_describe(result)))
        changed.unlink()
        zip_time = _time_zip(tree, base / "zip.zip")
        if zip_time is None:
            rows.append(("zip -X -r -9", None, "zip not on PATH", "-"))
        else:
            zip_size = (base / "zip.zip").stat().st_size
            rows.append(("zip -X -r -9", zip_time[0], f"{zip_size:,}", "-"))
        _print(rows, None if zip_time is None else zip_time[0])


def _describe(result: object) -> tuple[str, str]:
    built, compressed = result  # type: ignore[misc]
    return f"{built.size:,}", f"{compressed:,}"


def _time_zip(tree: Path, target: Path) -> tuple[float] | None:
    executable = shutil.which("zip")
    if executable is None:
        return None

    def clear() -> None:
        target.unlink(missing_ok=True)

    elapsed, _ = best(
        RUNS,
        clear,
        lambda: subprocess.run(
            [executable, "-X", "-r", "-9", "-q", str(target), "."], cwd=tree, check=True
        ),
    )
    return (elapsed,)


def _print(rows: list[tuple[str, float | None, str, str]], zip_time: float | None) -> None:
    header = f"{'case':<30} {'seconds':>8} {'x zip':>6} {'ZIP bytes':>16} {'compressed':>10}"
    print(header)
    print("-" * len(header))
    for name, elapsed, size, compressed in rows:
        seconds = "-" if elapsed is None else f"{elapsed:.3f}"
        ratio = "-" if elapsed is None or zip_time is None else f"{elapsed / zip_time:.2f}"
        print(f"{name:<30} {seconds:>8} {ratio:>6} {size:>16} {compressed:>10}")
    if zip_time is None:
        print("\nzip is not on PATH: install Info-ZIP (`make system-deps`) for the comparison.")


if __name__ == "__main__":
    main()
