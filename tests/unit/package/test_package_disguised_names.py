"""Entry names holding invisible formatting characters (Unicode Cf: bidi overrides, zero-width)
or line and paragraph separators (Zl, Zp) are refused, in a ZIP and in an unpacked tree alike
(issue 14 item 9c).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from sfsync.package.errors import UnsafePathError
from sfsync.package.limits import PackageLimits
from sfsync.package.paths import ASCII_REFUSED, normalise_entry_name
from sfsync.package.read import read_tree, read_zip_bytes
from tests.fixtures.zip_craft import RawEntry, craft_zip

ORIGIN = "/srv/pub/lightning.zip"
DISGUISED = [
    "invoice\u202egpj.js",  # RIGHT-TO-LEFT OVERRIDE: shows as "invoicesj.jpg"
    "a\u2028b.js",  # LINE SEPARATOR
    "a\u2029b.js",  # PARAGRAPH SEPARATOR
    "app\u200b.js",  # ZERO WIDTH SPACE
    "\u2066dir\u2069/app.js",  # LEFT-TO-RIGHT ISOLATE ... POP DIRECTIONAL ISOLATE
    "\ufeffapp.js",  # BYTE ORDER MARK
]


def assert_refused_naming(error: UnsafePathError, name: str) -> None:
    """Check the one-line message names the entry and the character's code point."""
    message = str(error)
    assert "\n" not in message
    assert "\u2028" not in message
    assert "\u2029" not in message
    assert error.entry == name
    assert repr(name) in message
    first = next(char for char in name if unicodedata.category(char) in {"Cf", "Zl", "Zp"})
    assert f"U+{ord(first):04X}" in message


@pytest.mark.parametrize("name", DISGUISED)
def test_disguised_zip_entry_is_refused(name: str) -> None:
    """A ZIP entry whose name hides or reorders characters is refused, naming it."""
    data = craft_zip([RawEntry(name), RawEntry("index.js")])
    with pytest.raises(UnsafePathError) as caught:
        read_zip_bytes(data, ORIGIN, PackageLimits())
    assert_refused_naming(caught.value, name)


@pytest.mark.parametrize("name", DISGUISED)
def test_disguised_tree_entry_is_refused(tmp_path: Path, name: str) -> None:
    """A file or folder of an unpacked package named so is refused too."""
    root = tmp_path / "package"
    path = root / name
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    with pytest.raises(UnsafePathError) as caught:
        read_tree(root, PackageLimits())
    assert "U+" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "name", ["caf\u00e9.js", "\u65e5\u672c/\u6587\u5b57.js", "r\u00e9sum\u00e9 (1).js", "\u05d0.js"]
)
def test_ordinary_unicode_names_are_kept(name: str) -> None:
    """Accents, CJK, spaces and right-to-left letters themselves are ordinary names."""
    assert normalise_entry_name(name, ORIGIN) == name


def test_the_ascii_check_refuses_exactly_the_refused_ascii_characters() -> None:
    """The shortcut for ASCII names matches exactly the ASCII characters the category checks
    refuse, so a name is refused or kept the same either way.
    """
    refused_categories = {"Cc", "Cs", "Cf", "Zl", "Zp"}
    by_category = {
        chr(code) for code in range(128) if unicodedata.category(chr(code)) in refused_categories
    }
    by_pattern = {chr(code) for code in range(128) if ASCII_REFUSED.search(chr(code))}
    assert by_pattern == by_category
    assert len(by_category) == 33  # U+0000-U+001F and U+007F
    with pytest.raises(UnsafePathError, match="control character"):
        normalise_entry_name("lib/a\x7fb.js", ORIGIN)
