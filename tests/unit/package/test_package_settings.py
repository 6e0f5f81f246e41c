"""Settings: parsing, deep merge semantics and the fixed serialisation."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest

from sfsync.package.errors import SettingsError
from sfsync.package.settings import deep_merge, parse_settings, render_settings


def test_dicts_merge_recursively_and_other_values_replace():
    """Objects merge key by key at every depth; lists, scalars and null replace whole."""
    base = {"power": {"fingers": 3, "hold": 2}, "goals": [1, 2], "active": True, "x": {"y": 1}}
    overrides = {"power": {"hold": 5}, "goals": [3], "active": None, "x": 7, "new": {"k": 1}}
    assert deep_merge(base, overrides) == {
        "power": {"fingers": 3, "hold": 5},
        "goals": [3],
        "active": None,
        "x": 7,
        "new": {"k": 1},
    }


def test_merge_does_not_change_its_arguments():
    """deep_merge returns a new object and leaves both inputs as they were."""
    base = {"a": {"b": 1}}
    overrides = {"a": {"c": 2}}
    deep_merge(base, overrides)
    assert base == {"a": {"b": 1}}
    assert overrides == {"a": {"c": 2}}


def test_scalar_replaced_by_a_mapping_becomes_a_plain_dict():
    """A mapping override onto a scalar replaces it with a plain (serialisable) dict copy."""
    merged = deep_merge({"a": 1}, {"a": MappingProxyType({"b": MappingProxyType({"c": 1})})})
    assert merged == {"a": {"b": {"c": 1}}}
    assert type(merged["a"]) is dict
    assert type(merged["a"]["b"]) is dict


def test_render_is_fixed_whatever_the_key_order():
    """The serialisation sorts keys, indents by two, escapes non-ASCII and ends in a newline."""
    first = render_settings({"b": 1, "a": {"\u00e9": "\u2713"}}, "settings.json", "p")
    second = render_settings({"a": {"\u00e9": "\u2713"}, "b": 1}, "settings.json", "p")
    assert first == second
    assert first == b'{\n  "a": {\n    "\\u00e9": "\\u2713"\n  },\n  "b": 1\n}\n'


def test_byte_order_mark_is_tolerated():
    """A settings file starting with a UTF-8 byte-order mark parses."""
    assert parse_settings(b'\xef\xbb\xbf{"a": 1}', "settings.json", "p", 1000) == {"a": 1}


def test_duplicate_keys_keep_the_last_as_browsers_do():
    """Duplicate keys resolve to the last value, as the vendor SDK's JSON.parse does."""
    assert parse_settings(b'{"a": 1, "a": 2}', "settings.json", "p", 1000) == {"a": 2}


def test_limit_is_checked_before_parsing():
    """A settings file over max_bytes is refused with both sizes in the message."""
    with pytest.raises(SettingsError, match=r"is 11 bytes, over the 10-byte limit"):
        parse_settings(b'{"a": "xx"}', "settings.json", "p", 10)


def test_nesting_at_the_limit_is_accepted():
    """Nesting up to MAX_SETTINGS_DEPTH is fine."""
    document = json.dumps({"a": [[[[1]]]]}).encode()
    assert parse_settings(document, "settings.json", "p", 1000) == {"a": [[[[1]]]]}
