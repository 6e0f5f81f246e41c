"""Decide what a connector's package holds: the published files, the settings with the
connector's overrides applied, and the manifest. Data in, data out; nothing is compressed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sfsync.errors import PackageError
from sfsync.package.errors import ReservedEntryError, SettingsError, describe
from sfsync.package.manifest import MANIFEST_NAME, content_hash, render_manifest
from sfsync.package.paths import collision_key, normalise_entry_name
from sfsync.package.settings import deep_merge, parse_settings, render_settings


def plan_own_entries(
    files: Mapping[str, bytes],
    origin: str,
    *,
    connector: str,
    overrides: Mapping[str, Any],
    source_version: str,
    sfsync_version: str,
    settings_file: str,
    max_settings_bytes: int,
    content_sha256: str | None = None,
    reserved: ReservedCheck | None = None,
) -> tuple[dict[str, bytes], str]:
    """Given a package's files and origin and one connector's build options, return the
    connector's own entries (path -> content: the manifest, and the settings file when overrides
    are merged into it), which the built ZIP holds beside or instead of the published files, and
    the published content's hash. A caller that looked for a manifest among the paths once for
    all connectors passes what it found as `reserved`.

    Raise `ReservedEntryError` if the package already holds a manifest, and `SettingsError` if
    the settings path is unusable, the settings file is not a JSON object, or overrides are
    given but the package has no settings file.
    """
    settings_path = _settings_path(settings_file, origin)
    clash = reserved.clash if reserved is not None else manifest_clash(files)
    if clash is not None:
        # A manifest in the input means a built package was fed back in as a source; replacing
        # it quietly would hide that loop, so it is refused.
        raise ReservedEntryError(
            f"{describe(origin, clash)}: {MANIFEST_NAME} is written by sfsync; was a built "
            "package published again?",
            entry=clash,
        )
    own: dict[str, bytes] = {}
    published_settings = files.get(settings_path)
    if published_settings is not None:
        settings = parse_settings(published_settings, settings_path, origin, max_settings_bytes)
        if overrides:
            merged = deep_merge(settings, overrides)
            own[settings_path] = render_settings(merged, settings_path, origin)
    elif overrides:
        raise SettingsError(
            f"{describe(origin, settings_path)}: connector {connector!r} has overrides but the "
            "package has no such settings file",
            entry=settings_path,
        )
    if content_sha256 is None:
        content_sha256 = content_hash(files)
    own[MANIFEST_NAME] = render_manifest(
        content_sha256=content_sha256,
        source_version=source_version,
        connector=connector,
        sfsync_version=sfsync_version,
        settings_file=settings_path,
        entry_count=len(files),
    )
    return own, content_sha256


@dataclass(frozen=True)
class ReservedCheck:
    """What `manifest_clash` found among a package's paths, looked for once for all of its
    connectors' builds (a thousand-file package cost a millisecond per connector otherwise).
    """

    clash: str | None


def manifest_clash(paths: Iterable[str]) -> str | None:
    """Given a package's paths, return the first one that would be taken for the manifest
    sfsync writes (equal but for case or Unicode normalisation), or None.
    """
    reserved = collision_key(MANIFEST_NAME)
    return next((path for path in paths if collision_key(path) == reserved), None)


def _settings_path(settings_file: str, origin: str) -> str:
    try:
        path = normalise_entry_name(settings_file, origin)
    except PackageError as error:
        raise SettingsError(
            f"{describe(origin)}: settings_file {settings_file!r} is not a usable path "
            f"inside a package",
            entry=settings_file,
        ) from error
    if not path:
        raise SettingsError(
            f"{describe(origin)}: settings_file {settings_file!r} names no file",
            entry=settings_file,
        )
    return path
