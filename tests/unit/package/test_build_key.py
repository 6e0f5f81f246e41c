"""The key of a build's inputs: equal inputs give equal keys, any changed input another key."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sfsync.package import build_key as build_key_module
from sfsync.package.build import BuildOptions
from sfsync.package.build_key import build_key
from sfsync.package.limits import PackageLimits

CONTENT = "c" * 64
OPTIONS = BuildOptions(
    connector="lightning/sandbox",
    overrides={"env": {"name": "sandbox"}},
    source_version="sha256:" + "f" * 64,
    sfsync_version="1.4.0",
)


def test_equal_inputs_give_equal_keys() -> None:
    """Two builds of the same inputs share a key (options rebuilt from scratch)."""
    again = BuildOptions(
        connector="lightning/sandbox",
        overrides={"env": {"name": "sandbox"}},
        source_version="sha256:" + "f" * 64,
        sfsync_version="1.4.0",
    )
    assert build_key(CONTENT, OPTIONS) == build_key(CONTENT, again)


@pytest.mark.parametrize(
    "changed",
    [
        replace(OPTIONS, connector="lightning/production"),
        replace(OPTIONS, overrides={"env": {"name": "production"}}),
        replace(OPTIONS, overrides={}),
        replace(OPTIONS, source_version="sha256:" + "e" * 64),
        replace(OPTIONS, sfsync_version="1.5.0"),
        replace(OPTIONS, settings_file="config/settings.json"),
        replace(OPTIONS, limits=PackageLimits(max_settings_bytes=1024)),
    ],
    ids=["connector", "overrides", "no-overrides", "source", "sfsync", "settings-file", "limits"],
)
def test_any_changed_option_changes_the_key(changed: BuildOptions) -> None:
    """A change to any build option (settings, versions, limits) gives another key."""
    assert build_key(CONTENT, changed) != build_key(CONTENT, OPTIONS)


def test_changed_content_changes_the_key() -> None:
    """Other published content under the same source version gives another key."""
    assert build_key("d" * 64, OPTIONS) != build_key(CONTENT, OPTIONS)


def test_overrides_in_another_order_give_another_key() -> None:
    """Overrides are keyed in their order: merged settings keep it, so it may change bytes."""
    one = replace(OPTIONS, overrides={"a": 1, "b": 2})
    other = replace(OPTIONS, overrides={"b": 2, "a": 1})
    assert build_key(CONTENT, one) != build_key(CONTENT, other)


def test_another_builder_changes_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A builder that makes other bytes (a new format or zlib) gives another key."""
    before = build_key(CONTENT, OPTIONS)
    monkeypatch.setattr(build_key_module, "BUILDER", "2/zlib 9.9.9")
    assert build_key(CONTENT, OPTIONS) != before
