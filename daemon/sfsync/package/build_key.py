"""The key of everything that goes into one connector's build, so that a build already made
from the same inputs is known without making it again (the build is deterministic).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import zlib

from sfsync.package.build import BuildOptions
from sfsync.package.limits import PackageLimits

# Raised whenever a change to the builder makes other bytes from the same inputs, so that
# keys recorded by an earlier builder no longer match. The sfsync version is in every key too
# (it is written into the manifest); zlib's is because another zlib may compress differently.
BUILD_FORMAT = 1
BUILDER = f"{BUILD_FORMAT}/zlib {zlib.ZLIB_RUNTIME_VERSION}"


def build_key(content_sha256: str, options: BuildOptions) -> str:
    """Given the published content's hash and one connector's build options, return the hex
    key of that build's inputs: equal keys build the same ZIP, and any change to the content,
    the source version, the connector's settings, the limits or the builder changes the key.
    """
    inputs = {
        "builder": BUILDER,
        "content_sha256": content_sha256,
        "connector": options.connector,
        # In the order given: merged settings keep the overrides' order.
        "overrides": options.overrides,
        "source_version": options.source_version,
        "sfsync_version": options.sfsync_version,
        "settings_file": options.settings_file,
        "limits": _limit_values(options.limits),
    }
    # TOML values JSON lacks (dates, times) are written as their repr, which is as exact.
    text = json.dumps(inputs, default=repr, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def _limit_values(limits: PackageLimits) -> tuple[object, ...]:
    # Once per set of limits, not per connector: `astuple` copies deeply.
    return dataclasses.astuple(limits)
