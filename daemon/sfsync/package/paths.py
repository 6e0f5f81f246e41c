"""Decide whether an entry name is safe, and what normalised POSIX path it stands for.

The same rules apply to ZIP entry names and to names found in an unpacked tree, so a package
reads the same whichever form it was published in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from sfsync.package.errors import UnsafePathError, describe

# Dropped at any depth. desktop.ini is Windows' per-folder sibling of Thumbs.db and is never
# content a browser would fetch.
JUNK_DIRECTORIES = frozenset({"__macosx"})
JUNK_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})

_DRIVE = re.compile(r"^[A-Za-z]:")
# Invisible formatting (bidi overrides such as U+202E, zero-width characters) and line or
# paragraph separators (U+2028, U+2029): each makes a name display as something it is not,
# in a log line, a terminal or a review of the package.
_DISGUISING_CATEGORIES = frozenset({"Cf", "Zl", "Zp"})
# The only ASCII characters in any category refused below (all "Cc"): an ASCII name, nearly
# every name, is checked with this instead of three category lookups per character (1,616
# names of the bench's package: 5.3 ms instead of 11.7, at every publish).
ASCII_REFUSED = re.compile(r"[\x00-\x1f\x7f]")


def normalise_entry_name(name: str, origin: str) -> str:
    """Given an entry name as stored and the package origin, return its normalised POSIX path.

    Empty and '.' segments are removed, so the result may be '' (the root). Raise
    `UnsafePathError` if the name holds a control character, an invisible formatting character
    (bidi overrides, zero-width), a line or paragraph separator, an undecodable byte or a
    backslash, is absolute (POSIX, drive letter or UNC), or has a '..' segment.
    """

    def refuse(reason: str) -> UnsafePathError:
        return UnsafePathError(f"{describe(origin, name)}: {reason}", entry=name)

    if name.isascii():
        if ASCII_REFUSED.search(name):
            raise refuse("control character in the name")
    else:
        _refuse_disguised(name, refuse)
    if "\\" in name:
        # A backslash is a separator to Windows tools and a plain character to Salesforce, so
        # 'a\..\b' would mean different things to whoever unpacks the package.
        raise refuse("backslash in the name (Windows separator)")
    if name.startswith("/"):
        raise refuse("absolute path")
    if _DRIVE.match(name):
        raise refuse("absolute Windows path (drive letter)")
    segments = [segment for segment in name.split("/") if segment not in {"", "."}]
    if ".." in segments:
        raise refuse("path escapes the package root ('..' segment)")
    return "/".join(segments)


def _refuse_disguised(name: str, refuse: Callable[[str], UnsafePathError]) -> None:
    """Given a non-ASCII name, raise what `refuse` makes if a character in it is refused."""
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise refuse("control character in the name")
    if any(unicodedata.category(char) == "Cs" for char in name):
        raise refuse("name is not valid UTF-8")
    disguising = [char for char in name if unicodedata.category(char) in _DISGUISING_CATEGORIES]
    if disguising:
        char = disguising[0]
        raise refuse(
            f"invisible formatting or line-separator character U+{ord(char):04X} "
            f"({unicodedata.name(char, 'unnamed')}) in the name"
        )


def is_junk(path: str) -> bool:
    """Given a normalised path, return whether it is operating-system clutter to drop."""
    segments = path.casefold().split("/")
    return segments[-1] in JUNK_FILES or any(part in JUNK_DIRECTORIES for part in segments)


def collision_key(path: str) -> str:
    """Given a normalised path, return the key under which two paths count as the same file.

    Salesforce serves paths case-sensitively, but such a package cannot be unpacked on macOS or
    Windows without one file overwriting the other, so case-only and Unicode-normalisation-only
    differences are refused as duplicates rather than trusted.
    """
    return unicodedata.normalize("NFC", path).casefold()
