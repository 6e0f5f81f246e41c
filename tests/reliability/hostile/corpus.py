"""The hostile-input corpus: packages and configs that sfsync must refuse, each with the error
class, the entry and the words its one-line reason must carry.

Everything is generated at test time (no binary file is kept in the repository). Packages are
placed into a folder by `BadPackage.place`, as a ZIP file, an unpacked folder, or something
stranger (a FIFO, a symlink); configs are TOML text derived from one valid base by a single
edit, so that each case breaks exactly one rule.
"""

from __future__ import annotations

import io
import json
import os
import random
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sfsync.errors import PackageError
from sfsync.package.errors import (
    ArchiveLimitError,
    CorruptArchiveError,
    DuplicateEntryError,
    EncryptedEntryError,
    LinkOrSpecialFileError,
    NotAZipError,
    PackageTooLargeError,
    PathConflictError,
    ReservedEntryError,
    SettingsError,
    SizeMismatchError,
    TruncatedArchiveError,
    UnsafePathError,
    UnsupportedCompressionError,
)
from sfsync.package.limits import PackageLimits
from tests.fixtures.zip_craft import LOCAL, STORED, UTF8_FLAG, RawEntry, craft_zip, local_header

MIB = 1024 * 1024
# Small limits, set in the config's [package] section, keep the bombs small. The ratio floor
# (1 MiB) is not configurable, so ratio bombs expand to 2 MiB.
LIMITS = PackageLimits(
    max_expanded_bytes=8 * MIB, max_entries=64, max_ratio=50, max_settings_bytes=64 * 1024
)
PACKAGE_TOML = (
    "[package]\n"
    f"max_expanded_bytes = {LIMITS.max_expanded_bytes}\n"
    f"max_entries = {LIMITS.max_entries}\n"
    f"max_ratio = {LIMITS.max_ratio}\n"
    f"max_settings_bytes = {LIMITS.max_settings_bytes}\n"
)
SETTINGS = b'{"active": false, "power": {"fingers": 3}}'
BOMB = b"\0" * (2 * MIB)


# -- packages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadPackage:
    """One hostile package: how to put it into a folder, and how sfsync must refuse it."""

    name: str  # readable id; also the file or folder name it is published under
    family: str
    place: Callable[[Path, Path], Path]  # (folder, scratch outside it) -> the path published
    refusal: type[PackageError]
    entry: str | None  # the entry the one-line reason names (shown with repr), if any
    reason: str  # words the reason carries
    representative: bool = False  # one of the few run through the CLI at "quick" scale


def good_package(version: int, files: int = 3) -> bytes:
    """Return a small valid published package whose content differs by `version`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("settings.json", json.dumps({"active": False, "version": version}))
        for index in range(files):
            archive.writestr(f"content/file{index}.js", f"// v{version} file {index}\n" * 20)
    return buffer.getvalue()


def _zip(  # noqa: PLR0917 - the corpus reads best as a table of positional rows
    name: str,
    family: str,
    make: Callable[[], bytes],
    refusal: type[PackageError],
    entry: str | None,
    reason: str,
    *,
    representative: bool = False,
) -> BadPackage:
    def place(folder: Path, _scratch: Path) -> Path:
        path = folder / f"{name}.zip"
        path.write_bytes(make())
        return path

    return BadPackage(name, family, place, refusal, entry, reason, representative)


def _entries(*entries: RawEntry) -> Callable[[], bytes]:
    """Return a maker of a ZIP holding a settings file and the given entries."""
    return lambda: craft_zip([RawEntry("settings.json", content=SETTINGS), *entries])


def _tree(  # noqa: PLR0917 - the corpus reads best as a table of positional rows
    name: str,
    family: str,
    fill: Callable[[Path, Path], object],
    refusal: type[PackageError],
    entry: str | None,
    reason: str,
    *,
    representative: bool = False,
) -> BadPackage:
    def place(folder: Path, scratch: Path) -> Path:
        root = folder / name
        root.mkdir()
        (root / "settings.json").write_bytes(SETTINGS)
        fill(root, scratch)
        return root

    return BadPackage(name, family, place, refusal, entry, reason, representative)


def _write_named(root: Path, name: str | bytes, content: bytes = b"x") -> None:
    path = os.path.join(os.fsencode(root), os.fsencode(name))  # noqa: PTH118 - bytes names
    with open(path, "wb") as file:  # noqa: PTH123 - bytes names
        file.write(content)


def _overlapping() -> bytes:
    # b.js's local header hides inside a.js's data: two entries share bytes, as the densest
    # zip bombs do.
    inner = local_header(b"b.js", b"x")
    return craft_zip(
        [
            RawEntry("a.js", content=inner, method=STORED),
            RawEntry(
                "b.js",
                content=b"x",
                method=STORED,
                write_local=False,
                header_offset=LOCAL.size + len(b"a.js"),
            ),
        ]
    )


def _same_local_header() -> bytes:
    # Two central records point at one local header: the same data counted twice.
    return craft_zip(
        [
            RawEntry("settings.json", content=SETTINGS),
            RawEntry("settings.json", content=SETTINGS, write_local=False, header_offset=0),
        ]
    )


def _ratio_bomb_padded() -> bytes:
    # Padding the stored data makes the declared ratio look harmless; the real one is not.
    data = zlib.compress(BOMB, 9, -15) + b"\0" * (48 * 1024)
    return craft_zip([RawEntry("big.js", content=BOMB, data=data)])


def _good_zip_bytes() -> bytes:
    return craft_zip([RawEntry("settings.json", content=SETTINGS), RawEntry("app.js")])


def _flip_central_signature() -> bytes:
    data = bytearray(_good_zip_bytes())
    at = data.index(b"PK\x01\x02")
    data[at + 2] ^= 0xFF
    return bytes(data)


def _end_record_points_nowhere() -> bytes:
    # The end record's central-directory offset and size point past the end of the file.
    data = _good_zip_bytes()
    return data[:-22] + b"PK\x05\x06" + bytes(8) + b"\xff" * 8 + bytes(2)


def _incompressible(size: int) -> bytes:
    return random.Random(8).randbytes(size)  # noqa: S311 - test data, not a secret


def _symlink_outside(root: Path, scratch: Path) -> None:
    secret = scratch / "secret.txt"
    secret.write_text("not for Salesforce\n")
    (root / "link.js").symlink_to(secret)


def _symlink_directory(root: Path, scratch: Path) -> None:
    target = scratch / "home-ssh"
    target.mkdir(exist_ok=True)
    (target / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (root / "assets").symlink_to(target, target_is_directory=True)


def _fifo(root: Path, _scratch: Path) -> None:
    (root / "sub").mkdir()
    os.mkfifo(root / "sub" / "pipe")


def _case_duplicates(root: Path, _scratch: Path) -> None:
    (root / "App.js").write_text("a")
    (root / "app.js").write_text("b")


def _many_files(root: Path, _scratch: Path) -> None:
    for index in range(LIMITS.max_entries + 1):
        (root / f"f{index:03}.js").write_text("x")


def _package_symlink_to_directory(folder: Path, scratch: Path) -> Path:
    # A publisher who can write the drop folder points "package.zip" at a folder of secrets:
    # read as an unpacked package, it would be pushed to a public Static Resource.
    secrets = scratch / "credentials"
    secrets.mkdir(exist_ok=True)
    (secrets / "settings.json").write_bytes(SETTINGS)
    (secrets / "keyring-passphrase").write_text("hunter2\n")
    path = folder / "package-symlink-to-directory.zip"
    path.symlink_to(secrets, target_is_directory=True)
    return path


def _package_symlink_to_device(folder: Path, _scratch: Path) -> Path:
    path = folder / "package-symlink-to-dev-zero.zip"
    path.symlink_to("/dev/zero")
    return path


def _package_fifo(folder: Path, _scratch: Path) -> Path:
    # Opening a FIFO for reading blocks until a writer comes: a cycle must not wait on it.
    path = folder / "package-fifo.zip"
    os.mkfifo(path)
    return path


def _settings_zip(content: bytes) -> Callable[[], bytes]:
    return lambda: craft_zip([RawEntry("settings.json", content=content), RawEntry("app.js")])


_SLIP = "zip-slip"
_LINK = "links and special files"
_BOMB = "bombs"
_BROKEN = "truncated or corrupted"
_NAMES = "name encodings"
_DUPLICATE = "duplicates and conflicts"
_ENCRYPTED = "encryption and compression"
_SETTINGS = "settings file"
_NOT_ZIP = "not a zip"
_SIZE = "result size"
_DROP = "the drop folder itself"

PACKAGES: tuple[BadPackage, ...] = (
    # zip-slip, in all its forms
    _zip("dotdot-leading", _SLIP, _entries(RawEntry("../evil.js")), UnsafePathError,
         "../evil.js", "escapes the package root", representative=True),
    _zip("dotdot-nested", _SLIP, _entries(RawEntry("a/b/../../../evil.js")), UnsafePathError,
         "a/b/../../../evil.js", "escapes the package root"),
    _zip("dotdot-dot-segments", _SLIP, _entries(RawEntry("./.././evil.js")), UnsafePathError,
         "./.././evil.js", "escapes the package root"),
    _zip("dotdot-trailing", _SLIP, _entries(RawEntry("a/..")), UnsafePathError, "a/..",
         "escapes the package root"),
    _zip("absolute-posix", _SLIP, _entries(RawEntry("/etc/cron.d/evil")), UnsafePathError,
         "/etc/cron.d/evil", "absolute path"),
    _zip("absolute-unc", _SLIP, _entries(RawEntry("//server/share/evil.js")),
         UnsafePathError, "//server/share/evil.js", "absolute path"),
    _zip("absolute-windows-drive", _SLIP, _entries(RawEntry("C:\\Windows\\evil.js")),
         UnsafePathError, "C:\\Windows\\evil.js", "backslash"),
    _zip("absolute-windows-drive-slash", _SLIP, _entries(RawEntry("C:/Windows/evil.js")),
         UnsafePathError, "C:/Windows/evil.js", "drive letter"),
    _zip("backslash-dotdot", _SLIP, _entries(RawEntry("..\\..\\evil.js")), UnsafePathError,
         "..\\..\\evil.js", "backslash"),
    _zip("backslash-nested", _SLIP, _entries(RawEntry("a\\..\\..\\evil.js")), UnsafePathError,
         "a\\..\\..\\evil.js", "backslash"),
    _zip("nul-in-name", _SLIP, _entries(RawEntry("app.js\0../../evil.js")), UnsafePathError,
         "app.js\0../../evil.js", "control character"),
    _zip("newline-in-name", _SLIP, _entries(RawEntry("app.js\nfake log line")),
         UnsafePathError, "app.js\nfake log line", "control character"),
    # links and special files
    _zip("zip-symlink", _LINK, _entries(RawEntry("link.js", content=b"/etc/passwd",
         mode=0o120777)), LinkOrSpecialFileError, "link.js", "symbolic link", representative=True),
    _zip("zip-symlink-to-dotdot", _LINK, _entries(RawEntry("up", content=b"../../..",
         mode=0o120777)), LinkOrSpecialFileError, "up", "symbolic link"),
    _zip("zip-windows-reparse-point", _LINK, _entries(RawEntry("link.js", create_system=0,
         mode=0, dos_attributes=0x420)), LinkOrSpecialFileError, "link.js", "reparse point"),
    _zip("zip-fifo", _LINK, _entries(RawEntry("pipe", mode=0o010644)), LinkOrSpecialFileError,
         "pipe", "FIFO"),
    _zip("zip-block-device", _LINK, _entries(RawEntry("sda", mode=0o060660)),
         LinkOrSpecialFileError, "sda", "block device"),
    _tree("tree-symlink-to-file", _LINK, _symlink_outside, LinkOrSpecialFileError, "link.js",
          "symbolic link", representative=True),
    _tree("tree-symlink-to-directory", _LINK, _symlink_directory, LinkOrSpecialFileError,
          "assets", "symbolic link"),
    _tree("tree-fifo", _LINK, _fifo, LinkOrSpecialFileError, "sub/pipe", "FIFO"),
    # bombs
    _zip("bomb-ratio-declared", _BOMB, lambda: craft_zip([RawEntry("big.js", content=BOMB)]),
         ArchiveLimitError, "big.js", "compression ratio over 50:1", representative=True),
    _zip("bomb-ratio-padded", _BOMB, _ratio_bomb_padded, ArchiveLimitError, "big.js",
         "expands more than 50:1"),
    _zip("bomb-entry-count", _BOMB, lambda: craft_zip([RawEntry(f"f{index:03}.js") for index
         in range(LIMITS.max_entries + 1)]), ArchiveLimitError, f"f{LIMITS.max_entries:03}.js",
         "(limit max_entries)", representative=True),
    _zip("bomb-total-size", _BOMB, lambda: craft_zip([RawEntry(f"zeros/{index}.bin",
         content=b"\0" * MIB) for index in range(9)]), ArchiveLimitError, "zeros/8.bin",
         "(limit max_expanded_bytes)"),
    _zip("bomb-overlapping-entries", _BOMB, _overlapping, CorruptArchiveError, "b.js",
         "overlaps the data"),
    _zip("bomb-shared-local-header", _BOMB, _same_local_header, CorruptArchiveError,
         "settings.json", "overlaps the data"),
    _tree("tree-entry-count", _BOMB, _many_files, ArchiveLimitError, None,
          "(limit max_entries)"),
    # truncated and corrupted
    _zip("truncated-end-record", _BROKEN, lambda: _good_zip_bytes()[:-10],
         TruncatedArchiveError, None, "truncated", representative=True),
    _zip("truncated-still-being-written", _BROKEN, lambda: _good_zip_bytes()[: LOCAL.size + 9],
         TruncatedArchiveError, None, "still being written"),
    _zip("truncated-local-header-past-end", _BROKEN, _entries(RawEntry("a.js",
         header_offset=10**6)), TruncatedArchiveError, "a.js", "past the end"),
    _zip("corrupt-crc", _BROKEN, _entries(RawEntry("app.js", crc=0xDEADBEEF)),
         CorruptArchiveError, "app.js", "CRC"),
    _zip("corrupt-deflate-data", _BROKEN, _entries(RawEntry("app.js", data=b"\xff" * 20)),
         CorruptArchiveError, "app.js", "invalid deflate data"),
    _zip("corrupt-deflate-cut", _BROKEN, _entries(RawEntry("app.js",
         data=zlib.compress(b"content\n", 6, -15)[:-2])), CorruptArchiveError, "app.js",
         "end marker"),
    _zip("corrupt-local-central-name-mismatch", _BROKEN, _entries(RawEntry("app.js",
         local_name=b"../x.js")), CorruptArchiveError, "app.js", "different file"),
    _zip("corrupt-size-declared-smaller", _BROKEN, _entries(RawEntry("app.js",
         content=b"x" * 100, size=50)), SizeMismatchError, "app.js", "declares"),
    _zip("corrupt-local-central-size-mismatch", _BROKEN, _entries(RawEntry("app.js",
         local_size=999)), SizeMismatchError, "app.js", "central directory"),
    _zip("corrupt-central-signature", _BROKEN, _flip_central_signature, CorruptArchiveError,
         None, "damaged ZIP"),
    _zip("corrupt-end-record-offset", _BROKEN, _end_record_points_nowhere, CorruptArchiveError,
         None, "damaged ZIP"),
    _zip("corrupt-directory-with-content", _BROKEN, _entries(RawEntry("d/", content=b"x",
         method=STORED)), SizeMismatchError, "d/", "directory entry"),
    # wrong encodings of names
    _zip("name-latin1-without-flag", _NAMES, _entries(RawEntry(b"caf\xe9.js")),
         UnsafePathError, b"caf\xe9.js".decode("cp437"), "neither ASCII nor UTF-8",
         representative=True),
    _zip("name-shift-jis-without-flag", _NAMES, _entries(RawEntry(b"\x83e\x83X\x83g.js")),
         UnsafePathError, b"\x83e\x83X\x83g.js".decode("cp437"), "neither ASCII nor UTF-8"),
    _zip("name-overlong-utf8-dotdot", _NAMES, _entries(RawEntry(b"\xc0\xae\xc0\xae/evil.js")),
         UnsafePathError, b"\xc0\xae\xc0\xae/evil.js".decode("cp437"),
         "neither ASCII nor UTF-8"),
    _zip("name-invalid-utf8-with-flag", _NAMES, _entries(RawEntry(b"\xff\xfe.js",
         flags=UTF8_FLAG)), CorruptArchiveError, None, "damaged ZIP"),
    _tree("tree-name-not-utf8", _NAMES, lambda root, _: _write_named(root, b"\xff.js"),
          UnsafePathError, "\udcff.js", "not valid UTF-8"),
    _tree("tree-backslash-name", _NAMES, lambda root, _: _write_named(root, "a\\..\\b.js"),
          UnsafePathError, "a\\..\\b.js", "backslash"),
    # duplicates and conflicts
    _zip("duplicate-exact", _DUPLICATE, _entries(RawEntry("app.js"), RawEntry("app.js")),
         DuplicateEntryError, "app.js", "same path"),
    _zip("duplicate-case", _DUPLICATE, _entries(RawEntry("App.js"), RawEntry("app.js")),
         DuplicateEntryError, "app.js", "same path", representative=True),
    _zip("duplicate-unicode-normalisation", _DUPLICATE, _entries(RawEntry("caf\u00e9.js"),
         RawEntry("cafe\u0301.js")), DuplicateEntryError, "cafe\u0301.js", "same path"),
    _zip("duplicate-dot-segment", _DUPLICATE, _entries(RawEntry("app.js"),
         RawEntry("./app.js")), DuplicateEntryError, "./app.js", "same path"),
    _zip("duplicate-settings-file", _DUPLICATE, lambda: craft_zip([RawEntry("settings.json",
         content=b'{"active": false}'), RawEntry("Settings.JSON", content=b'{"active": true}')]),
         DuplicateEntryError, "Settings.JSON", "same path"),
    _zip("conflict-file-and-directory", _DUPLICATE, _entries(RawEntry("a"),
         RawEntry("a/b.js")), PathConflictError, "a/b.js", "is also a file"),
    _tree("tree-duplicate-case", _DUPLICATE, _case_duplicates, DuplicateEntryError, "app.js",
          "same path"),
    _zip("reserved-manifest", _DUPLICATE, _entries(RawEntry("sfsync-manifest.json",
         content=b"{}")), ReservedEntryError, "sfsync-manifest.json", "written by sfsync"),
    # encryption and compression
    _zip("encrypted-flag", _ENCRYPTED, _entries(RawEntry("app.js", flags=0x1)),
         EncryptedEntryError, "app.js", "encrypted", representative=True),
    _zip("encrypted-local-header-only", _ENCRYPTED, _entries(RawEntry("app.js",
         local_flags=0x1)), EncryptedEntryError, "app.js", "encrypted"),
    _zip("encrypted-strong", _ENCRYPTED, _entries(RawEntry("app.js", flags=0x40)),
         EncryptedEntryError, "app.js", "encrypted"),
    _zip("encrypted-aes-method", _ENCRYPTED, _entries(RawEntry("app.js", method=99)),
         EncryptedEntryError, "app.js", "encrypted"),
    _zip("compression-bzip2", _ENCRYPTED, _entries(RawEntry("app.js", method=12)),
         UnsupportedCompressionError, "app.js", "bzip2"),
    _zip("compression-lzma", _ENCRYPTED, _entries(RawEntry("app.js", method=14)),
         UnsupportedCompressionError, "app.js", "lzma"),
    _zip("compression-unknown", _ENCRYPTED, _entries(RawEntry("app.js", method=77)),
         UnsupportedCompressionError, "app.js", "not supported"),
    # the settings file
    _zip("settings-array", _SETTINGS, _settings_zip(b'[{"active": true}]'), SettingsError,
         "settings.json", "must hold a JSON object, not an array"),
    _zip("settings-string", _SETTINGS, _settings_zip(b'"active"'), SettingsError,
         "settings.json", "not a string"),
    _zip("settings-invalid-json", _SETTINGS, _settings_zip(b"{'active': true}"), SettingsError,
         "settings.json", "not valid JSON"),
    _zip("settings-nan", _SETTINGS, _settings_zip(b'{"hold": NaN}'), SettingsError,
         "settings.json", "not valid JSON"),
    _zip("settings-huge-integer", _SETTINGS, _settings_zip(b'{"hold": 1' + b"0" * 5000 + b"}"),
         SettingsError, "settings.json", "not valid JSON"),
    _zip("settings-too-large", _SETTINGS, _settings_zip(json.dumps({f"goal{index}": "x" * 60
         for index in range(1200)}).encode()), SettingsError, "settings.json",
         "over the 65,536-byte limit"),
    _zip("settings-nested-deep", _SETTINGS, _settings_zip(b'{"a":' * 100 + b"1" + b"}" * 100),
         SettingsError, "settings.json", "nested deeper than 64 levels", representative=True),
    _zip("settings-nested-past-recursion", _SETTINGS, _settings_zip(b"[" * 20000 + b"]" * 20000),
         SettingsError, "settings.json", "nested too deeply"),
    _zip("settings-not-utf8", _SETTINGS, _settings_zip(b'{"name": "caf\xe9"}'), SettingsError,
         "settings.json", "not UTF-8"),
    _zip("settings-utf16", _SETTINGS, _settings_zip('{"active": true}'.encode("utf-16")),
         SettingsError, "settings.json", "not UTF-8"),
    _zip("settings-missing-with-overrides", _SETTINGS, lambda: craft_zip([RawEntry("app.js")]),
         SettingsError, "settings.json", "has overrides but the package has no such settings"),
    _tree("tree-settings-not-object", _SETTINGS, lambda root, _: (root / "settings.json")
          .write_bytes(b"null"), SettingsError, "settings.json", "not null"),
    # a result over the Static Resource limit
    _zip("result-over-5mb", _SIZE, lambda: craft_zip([RawEntry("settings.json",
         content=SETTINGS), RawEntry("video.bin", content=_incompressible(5_300_000))]),
         PackageTooLargeError, None, "Static Resource limit", representative=True),
    # not a zip at all
    _zip("not-zip-empty", _NOT_ZIP, lambda: b"", NotAZipError, None, "empty file"),
    _zip("not-zip-html", _NOT_ZIP, lambda: b"<!doctype html><title>502 Bad Gateway</title>",
         NotAZipError, None, "not a ZIP archive"),
    _zip("not-zip-gzip", _NOT_ZIP, lambda: b"\x1f\x8b\x08\x00" + bytes(200), NotAZipError,
         None, "not a ZIP archive"),
    _zip("not-zip-png", _NOT_ZIP, lambda: b"\x89PNG\r\n\x1a\n" + bytes(100), NotAZipError,
         None, "not a ZIP archive"),
    _zip("not-zip-two-bytes", _NOT_ZIP, lambda: b"PK", NotAZipError, None, "not a ZIP archive"),
    # the drop folder entry itself is hostile
    BadPackage("package-symlink-to-directory", _DROP, _package_symlink_to_directory,
               LinkOrSpecialFileError, None, "symbolic link", representative=True),
    BadPackage("package-symlink-to-dev-zero", _DROP, _package_symlink_to_device,
               LinkOrSpecialFileError, None, "symbolic link"),
    BadPackage("package-fifo", _DROP, _package_fifo, LinkOrSpecialFileError, None, "FIFO",
               representative=True),
)  # fmt: skip


# -- configs --------------------------------------------------------------------------------


def site_config(
    *,
    state_dir: str = "state",
    drops: tuple[str, str] = ("drop-alpha", "drop-beta"),
    login_urls: tuple[str, str] = ("https://test.salesforce.com", "https://test.salesforce.com"),
    client_id: str = "sfsync-hostile",
    ca_bundle: str | None = None,
    keyring_file: str = "keyring/sfsync.cfg",
    metrics_listen: str = "",
) -> str:
    """Return a valid config with two systems, `alpha` (whose sandbox has overrides, so its
    packages need a settings file) and `beta`, each one environment with its own drop folder,
    resource and org, and the corpus' small package limits.
    """
    oauth = f'client_id = "{client_id}"\n' + (f'ca_bundle = "{ca_bundle}"\n' if ca_bundle else "")
    return (
        "[daemon]\n"
        f'state_dir = "{state_dir}"\n'
        f'metrics_listen = "{metrics_listen}"\n'
        'log_format = "json"\n'
        "concurrency = 4\n"
        "keep_packages = 3\n"
        'keepalive = "7d"\n'
        "\n[oauth]\n" + oauth + "\n[salesforce]\n"
        'api_version = "64.0"\n'
        'timeout = "10s"\n'
        "api_usage_ceiling = 0.8\n"
        "\n[keyring]\n"
        'backend = "cryptfile"\n'
        f'cryptfile_path = "{keyring_file}"\n'
        "\n" + PACKAGE_TOML + "\n[systems.alpha]\n"
        'resource = "HostileAlpha"\n'
        f'source = {{ type = "dir", path = "{drops[0]}", settle = "0s" }}\n'
        "\n[systems.alpha.environments.sandbox]\n"
        f'login_url = "{login_urls[0]}"\n'
        "overrides = { active = true }\n"
        "\n[systems.beta]\n"
        'resource = "HostileBeta"\n'
        f'source = {{ type = "dir", path = "{drops[1]}", settle = "0s" }}\n'
        "\n[systems.beta.environments.sandbox]\n"
        f'login_url = "{login_urls[1]}"\n'
    )


@dataclass(frozen=True)
class BadConfig:
    """One broken config: the edit that breaks the valid base, and the problem it must report.

    `key` is the key path the reported line names (`FILE: at 'KEY': ...`), or None for a
    problem of the whole file (not TOML, not UTF-8).
    """

    name: str
    edit: Callable[[str], str | bytes]
    key: str | None
    reason: str
    representative: bool = False


def _replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        if old not in text:
            raise AssertionError(f"the base config has no {old!r} to replace")
        return text.replace(old, new, 1)

    return edit


def _append(extra: str) -> Callable[[str], str]:
    return lambda text: text + extra


def _without_systems(text: str) -> str:
    return text[: text.index("[systems.alpha]")]


def _not_utf8(text: str) -> bytes:
    return text.replace("[daemon]", "# caf\xe9\n[daemon]").encode("latin-1")


def _nested(depth: int, opening: str, closing: str) -> Callable[[str], str]:
    value = opening * depth + "1" + closing * depth
    return _replace("overrides = { active = true }", f"overrides = {{ active = {value} }}")


_ALPHA = "systems.alpha"
_ALPHA_SANDBOX = "systems.alpha.environments.sandbox"
_ALPHA_ENV = "[systems.alpha.environments.sandbox]\n"
_DIR_SOURCE = 'source = { type = "dir", path = "drop-alpha", settle = "0s" }'

CONFIGS: tuple[BadConfig, ...] = (
    # not TOML, or not text
    BadConfig("toml-unclosed-table", _replace("[daemon]", "[daemon"), None, "invalid TOML",
              representative=True),
    BadConfig("toml-duplicate-key", _replace('resource = "HostileAlpha"',
              'resource = "HostileAlpha"\nresource = "HostileAlpha"'), None, "invalid TOML"),
    BadConfig("toml-unterminated-string", _replace('client_id = "sfsync-hostile"',
              'client_id = "sfsync-hostile'), None, "invalid TOML"),
    BadConfig("toml-control-character", _replace('client_id = "sfsync-hostile"',
              'client_id = "sfsync\x00hostile"'), None, "invalid TOML"),
    BadConfig("toml-deep-arrays", _nested(3000, "[", "]"), None, "nested too deeply",
              representative=True),
    BadConfig("toml-deep-inline-tables", _nested(450, "{ a = ", " }"), None,
              "nested too deeply"),
    BadConfig("not-utf8", _not_utf8, None, "not UTF-8"),
    BadConfig("empty-file", lambda _text: "", "systems", "required key is missing"),
    # unknown keys
    BadConfig("unknown-key", _replace("concurrency = 4", 'concurrency = 4\ncolour = "blue"'),
              "daemon.colour", "unknown key", representative=True),
    BadConfig("unknown-key-with-line-break", _replace("concurrency = 4",
              'concurrency = 4\n"col\\nour" = 1'), 'daemon."col\\nour"', "unknown key",
              representative=True),
    BadConfig("unknown-key-with-next-line-char", _replace("concurrency = 4",
              'concurrency = 4\n"\\u0085" = 1'), 'daemon."\\u0085"', "unknown key"),
    BadConfig("unknown-section", _append("\n[extras]\nx = 1\n"), "extras", "unknown key"),
    BadConfig("unknown-source-key", _replace('settle = "0s" }', 'settle = "0s", glob = "*" }'),
              f"{_ALPHA}.source.glob", "unknown key"),
    BadConfig("unknown-environment-key", _replace(_ALPHA_ENV, _ALPHA_ENV + "soak_time = 1\n"),
              f"{_ALPHA_SANDBOX}.soak_time", "unknown key"),
    # wrong types
    BadConfig("string-for-int", _replace("concurrency = 4", 'concurrency = "4"'),
              "daemon.concurrency", "must be a whole number", representative=True),
    BadConfig("bool-for-int", _replace("keep_packages = 3", "keep_packages = true"),
              "daemon.keep_packages", "must be a whole number"),
    BadConfig("float-for-int", _replace("concurrency = 4", "concurrency = 2.5"),
              "daemon.concurrency", "must be a whole number"),
    BadConfig("int-for-duration", _replace('keepalive = "7d"', "keepalive = 7"),
              "daemon.keepalive", "a duration is a string", representative=True),
    BadConfig("int-for-string", _replace('client_id = "sfsync-hostile"', "client_id = 42"),
              "oauth.client_id", "must be a string"),
    BadConfig("string-for-bool", _replace("overrides = { active = true }", 'verify = "yes"'),
              f"{_ALPHA_SANDBOX}.verify", "must be true or false"),
    BadConfig("string-for-table", _replace("overrides = { active = true }",
              'overrides = "active"'), f"{_ALPHA_SANDBOX}.overrides", "must be a table"),
    BadConfig("array-of-tables-for-section", _replace("[salesforce]", "[[salesforce]]"),
              "salesforce", "must be a table"),
    # bad values
    BadConfig("bad-duration", _replace('settle = "0s"', 'settle = "5 minutes"'),
              f"{_ALPHA}.source.settle", "is not a duration"),
    BadConfig("negative-duration", _replace('timeout = "10s"', 'timeout = "-10s"'),
              "salesforce.timeout", "is not a duration"),
    BadConfig("zero-timeout", _replace('timeout = "10s"', 'timeout = "0s"'),
              "salesforce.timeout", "longer than zero"),
    BadConfig("metrics-listen-malformed", _replace('metrics_listen = ""',
              'metrics_listen = "localhost"'), "daemon.metrics_listen", "is not HOST:PORT",
              representative=True),
    BadConfig("metrics-listen-port-out-of-range", _replace('metrics_listen = ""',
              'metrics_listen = "127.0.0.1:99999"'), "daemon.metrics_listen", "is not HOST:PORT"),
    BadConfig("keep-packages-zero", _replace("keep_packages = 3", "keep_packages = 0"),
              "daemon.keep_packages", "greater than or equal to 1"),
    BadConfig("concurrency-huge", _replace("concurrency = 4", "concurrency = 100000"),
              "daemon.concurrency", "less than or equal to 256"),
    BadConfig("log-format-unknown", _replace('log_format = "json"', 'log_format = "xml"'),
              "daemon.log_format", "'json' or 'console'"),
    BadConfig("api-version-malformed", _replace('api_version = "64.0"', 'api_version = "64"'),
              "salesforce.api_version", "should match pattern"),
    BadConfig("usage-ceiling-over-one", _replace("api_usage_ceiling = 0.8",
              "api_usage_ceiling = 1.5"), "salesforce.api_usage_ceiling", "less than or equal"),
    BadConfig("keyring-backend-malformed", _replace('backend = "cryptfile"',
              'backend = "plain text"'), "keyring.backend", "should match pattern"),
    BadConfig("package-max-entries-zero", _replace("max_entries = 64", "max_entries = 0"),
              "package.max_entries", "greater than or equal to 1"),
    BadConfig("settings-file-escapes", _replace('resource = "HostileAlpha"',
              'resource = "HostileAlpha"\nsettings_file = "../settings.json"'),
              f"{_ALPHA}.settings_file", "relative path inside the package"),
    # names
    BadConfig("resource-double-underscore", _replace('"HostileAlpha"', '"Hostile__Alpha"'),
              f"{_ALPHA}.resource", "two underscores in a row", representative=True),
    BadConfig("resource-leading-digit", _replace('"HostileAlpha"', '"1HostileAlpha"'),
              f"{_ALPHA}.resource", "must start with a letter"),
    BadConfig("resource-hyphen", _replace('"HostileAlpha"', '"Hostile-Alpha"'),
              f"{_ALPHA}.resource", "only letters, digits and underscores"),
    BadConfig("resource-trailing-underscore", _replace('"HostileAlpha"', '"HostileAlpha_"'),
              f"{_ALPHA}.resource", "must not end with an underscore"),
    BadConfig("resource-too-long", _replace('"HostileAlpha"', '"' + "A" * 81 + '"'),
              f"{_ALPHA}.resource", "longer than 80 characters"),
    BadConfig("resource-empty", _replace('"HostileAlpha"', '""'), f"{_ALPHA}.resource",
              "cannot be empty"),
    BadConfig("resource-duplicate-across-systems", _replace('"HostileBeta"', '"hostilealpha"'),
              "systems.beta.resource", "already the resource of system 'alpha'"),
    BadConfig("system-name-uppercase", lambda text: text.replace("systems.alpha",
              "systems.Alpha"), "systems", "system name 'Alpha'"),
    BadConfig("environment-name-with-space", lambda text: text.replace(
              "alpha.environments.sandbox", 'alpha.environments."my sandbox"'),
              f"{_ALPHA}.environments", "environment name 'my sandbox'", representative=True),
    # promotion gates
    BadConfig("gate-loop", _replace(_ALPHA_ENV, _ALPHA_ENV + 'requires = "uat"\n'
              '[systems.alpha.environments.uat]\nrequires = "sandbox"\n'),
              f"{_ALPHA_SANDBOX}.requires", "forms a loop", representative=True),
    BadConfig("gate-requires-itself", _replace(_ALPHA_ENV, _ALPHA_ENV + 'requires = "sandbox"\n'),
              f"{_ALPHA_SANDBOX}.requires", "cannot require itself"),
    BadConfig("gate-requires-missing", _replace(_ALPHA_ENV, _ALPHA_ENV + 'requires = "uat"\n'),
              f"{_ALPHA_SANDBOX}.requires", "'uat' is not an environment of system 'alpha'"),
    BadConfig("gate-soak-without-requires", _replace(_ALPHA_ENV, _ALPHA_ENV + 'soak = "1h"\n'),
              f"{_ALPHA_SANDBOX}.soak", "only has a meaning with requires"),
    # sources and URLs
    BadConfig("http-source-plain-http", _replace(_DIR_SOURCE,
              'source = { type = "http", url = "http://cdn.example.com/walkme.zip" }'),
              f"{_ALPHA}.source.url", "must use https", representative=True),
    BadConfig("http-source-not-http", _replace(_DIR_SOURCE,
              'source = { type = "http", url = "ftp://cdn.example.com/walkme.zip" }'),
              f"{_ALPHA}.source.url", "is not an http(s) URL"),
    BadConfig("source-type-unknown", _replace('type = "dir", path = "drop-alpha"',
              'type = "s3", path = "drop-alpha"'), f"{_ALPHA}.source", 'must be "dir" or "http"'),
    BadConfig("source-path-missing", _replace('type = "dir", path = "drop-alpha", ',
              'type = "dir", '), f"{_ALPHA}.source.path", "required key is missing"),
    BadConfig("login-url-plain-http", _replace('login_url = "https://test.salesforce.com"',
              'login_url = "http://test.salesforce.com"'), f"{_ALPHA_SANDBOX}.login_url",
              "must be an https URL"),
    BadConfig("login-url-lightning-host", _replace('login_url = "https://test.salesforce.com"',
              'login_url = "https://acme.lightning.force.com"'), f"{_ALPHA_SANDBOX}.login_url",
              "Lightning UI host"),
    BadConfig("api-unknown", _replace(_ALPHA_ENV, _ALPHA_ENV + 'api = "soap"\n'),
              f"{_ALPHA_SANDBOX}.api", "'tooling' or 'metadata'"),
    # missing pieces
    BadConfig("oauth-missing", _replace('[oauth]\nclient_id = "sfsync-hostile"\n', ""),
              "systems.alpha.environments.sandbox.client_id", "no consumer key"),
    BadConfig("systems-missing", _without_systems, "systems", "required key is missing"),
    BadConfig("environments-empty", lambda text: _without_systems(text) + "[systems.alpha]\n"
              f'resource = "HostileAlpha"\n{_DIR_SOURCE}\nenvironments = {{}}\n',
              f"{_ALPHA}.environments", "at least 1 item"),
)  # fmt: skip
