"""Apply a connector's overrides to the package's settings file.

With no overrides the published bytes are kept exactly, so the vendor's formatting survives.
With overrides the merged object is written in one fixed form (`render_settings`), so the same
settings and overrides always give the same bytes whatever order the keys were given in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sfsync.package.errors import SettingsError, describe

# Deeper than any real settings file, far shallower than Python's recursion limit, so the
# merge and the serialiser never come near it.
MAX_SETTINGS_DEPTH = 64
_BOM = b"\xef\xbb\xbf"


def parse_settings(data: bytes, name: str, origin: str, max_bytes: int) -> dict[str, Any]:
    """Given a settings file's bytes, its path in the package, the package origin and the size
    limit, return the JSON object it holds.

    A leading UTF-8 byte-order mark is tolerated, as Windows editors write one. Raise
    `SettingsError` if the file is larger than max_bytes, not UTF-8, not JSON (NaN and Infinity
    included), nested deeper than MAX_SETTINGS_DEPTH, or not an object.
    """

    def refuse(reason: str) -> SettingsError:
        return SettingsError(f"{describe(origin, name)}: settings file {reason}", entry=name)

    if len(data) > max_bytes:
        raise refuse(f"is {len(data):,} bytes, over the {max_bytes:,}-byte limit")
    try:
        text = data.removeprefix(_BOM).decode("utf-8")
    except UnicodeDecodeError as error:
        raise refuse(f"is not UTF-8 ({error.reason} at byte {error.start})") from error
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as error:
        raise refuse("is nested too deeply") from error
    except ValueError as error:  # JSONDecodeError, NaN/Infinity, an over-long integer
        raise refuse(f"is not valid JSON ({_first_line(error)})") from error
    if not isinstance(value, dict):
        raise refuse(f"must hold a JSON object, not {_json_kind(value)}")
    if _depth(value) > MAX_SETTINGS_DEPTH:
        raise refuse(f"is nested deeper than {MAX_SETTINGS_DEPTH} levels")
    return value


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Given settings and overrides, return a new object with the overrides merged in.

    Where both sides hold an object the two merge key by key, recursively; any other override
    value (a list, a scalar, null) replaces the setting whole. Neither argument is changed.
    """
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(value, Mapping):
            # A mapping override onto a non-mapping replaces it; merging into {} copies it
            # into plain dicts, which is what the serialiser accepts.
            merged[key] = deep_merge(current if isinstance(current, Mapping) else {}, value)
        else:
            merged[key] = value
    return merged


def render_settings(settings: Mapping[str, Any], name: str, origin: str) -> bytes:
    """Given merged settings, the settings path and the package origin, return the fixed
    serialisation: keys sorted, two-space indent, ASCII only (other characters as \\u escapes),
    no NaN or Infinity, one trailing newline.

    Raise `SettingsError` if an override holds a value JSON cannot express (a date, NaN).
    """
    try:
        text = json.dumps(settings, sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise SettingsError(
            f"{describe(origin, name)}: overrides cannot be written as JSON ({_first_line(error)})",
            entry=name,
        ) from error
    return (text + "\n").encode("ascii")


def _refuse_constant(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _depth(value: Any) -> int:
    # Iterative, so a deep value cannot exhaust the stack while being measured.
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        deepest = max(deepest, depth)
        if isinstance(current, dict):
            pending.extend((child, depth + 1) for child in current.values())
        elif isinstance(current, list):
            pending.extend((child, depth + 1) for child in current)
    return deepest


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number"}
    kinds[float] = "a number"
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
