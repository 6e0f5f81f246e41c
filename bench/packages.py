"""Published packages of a chosen size, made from seeded text and image-like bytes, and
published the way publishers do it: write NAME.zip.part, then rename it into the drop folder.

A package is mostly compressible text (JS, CSS, JSON, HTML) plus incompressible "images", as a
real self-hosting package is; each version changes its settings file and one script, as a new
publish usually changes a few files.
"""

from __future__ import annotations

import io
import json
import random
import time
import zipfile
import zlib
from functools import cache
from pathlib import Path

SEED = 20240601
EXTENSIONS = ("js", "js", "js", "css", "json", "html")
FOLDERS = tuple(f"{area}/{sub}" for area in ("lib", "player", "widgets", "i18n") for sub in "abcde")
IMAGE_SHARE = 0.5  # of the published ZIP's bytes
PUBLISH_LEVEL = 6  # what a publisher's zip tool uses by default
_TEMPLATES = {
    "js": "function {0}({1}, {2}) {{ return {1}.{3}({2}) || '{4}'; }}\n",
    "css": ".{0}-{1} {{ margin: {5}px; color: #{6:06x}; }}\n",
    "json": '  "{0}": {{"{1}": "{2} {3}", "n": {5}}},\n',
    "html": '<div class="{0} {1}"><span data-{2}="{3}">{4}</span></div>\n',
}


def vocabulary(rng: random.Random) -> list[str]:
    """Return 600 made-up words drawn from `rng`."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 11))) for _ in range(600)]


def text_file(rng: random.Random, words: list[str], extension: str, size: int) -> bytes:
    """Return about `size` bytes of source-like text of the given kind."""
    template = _TEMPLATES[extension]
    lines: list[str] = []
    length = 0
    while length < size:
        chosen = [rng.choice(words) for _ in range(5)]
        line = template.format(*chosen, rng.randint(0, 64), rng.randint(0, 0xFFFFFF))
        lines.append(line)
        length += len(line)
    return "".join(lines).encode()


@cache
def content_files(target_bytes: int, seed: int = SEED) -> dict[str, bytes]:
    """Given the published ZIP size wanted, return the package's files (without the settings
    file and the per-version script) whose ZIP comes to about that size.
    """
    rng = random.Random(seed + target_bytes)  # noqa: S311 - reproducible data, not secrets
    words = vocabulary(rng)
    files: dict[str, bytes] = {}
    image_bytes = 0
    while image_bytes < target_bytes * IMAGE_SHARE:
        size = rng.randint(8_000, 60_000)
        files[f"img/i{len(files):04}.png"] = rng.randbytes(size)
        image_bytes += size
    compressed = 0
    index = 0
    while compressed < target_bytes * (1 - IMAGE_SHARE):
        extension = rng.choice(EXTENSIONS)
        size = int(min(rng.lognormvariate(6.8, 0.8), 40_000))
        content = text_file(rng, words, extension, size)
        files[f"{rng.choice(FOLDERS)}/f{index:04}.{extension}"] = content
        compressed += len(zlib.compress(content, PUBLISH_LEVEL)) + 80  # + ZIP headers
        index += 1
    return files


def package_bytes(target_bytes: int, version: int) -> bytes:
    """Return the published ZIP of `version` of a package of about `target_bytes`."""
    files = dict(content_files(target_bytes))
    files["settings.json"] = json.dumps(
        {"active": True, "version": version, "power": {"fingers": 3, "hold": 2}}
    ).encode()
    files["lib/release.js"] = f"window.walkmeRelease = {version};\n".encode() * 40
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=PUBLISH_LEVEL) as out:
        for name in sorted(files):
            # Zip tools store already-compressed images rather than deflate them again.
            stored = name.startswith("img/")
            out.writestr(name, files[name], zipfile.ZIP_STORED if stored else None)
    return buffer.getvalue()


def publish(drop: Path, data: bytes, version: int) -> float:
    """Publish as publishers do: write walkme-VERSION.zip.part, then rename it into place.
    Return the wall-clock time of the rename (the emulator stamps writes with the same clock).
    """
    part = drop / f"walkme-{version:05d}.zip.part"
    part.write_bytes(data)
    started = time.time()
    part.rename(drop / f"walkme-{version:05d}.zip")
    return started
