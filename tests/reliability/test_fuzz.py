"""Fuzzing the two readers of untrusted input (issue 8, item 2): the package reader and the config
loader, with Hypothesis, bounded in time.

Whatever bytes a publisher drops and whatever text an operator writes, the only errors that may
escape are the typed ones (`PackageError`, `ConfigError`), each message one line per problem.
Each target runs until its example count or its time budget is reached, whichever comes first
(about 20 s in all at "quick" scale, about 2 min at "full").
"""

from __future__ import annotations

import io
import time
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfsync.config.load import parse_config
from sfsync.errors import ConfigError, PackageError
from sfsync.package.build import BuildOptions, build_package
from sfsync.package.read import read_package
from tests.reliability.hostile.corpus import LIMITS, SETTINGS, good_package, site_config

# Each fuzz run spends its time budget generating inputs: the fast set leaves it out.
pytestmark = pytest.mark.slow

# Seconds per target; four targets.
BUDGET_SECONDS = {"quick": 5.0, "full": 30.0}
CALIBRATION_EXAMPLES = 30
SLICES = 4  # the budget is spent in about this many Hypothesis runs, each sized to fit


def run_bounded(
    figures: Any,
    scale: str,
    target: str,
    strategy: st.SearchStrategy[Any],
    check: Callable[[Any], None],
) -> None:
    """Run `check` on examples drawn from `strategy` for about the scale's budget; record how
    many ran and whether any crashed (anything but the typed error fails the test, shrunk).

    Hypothesis has no time limit, so the budget is spent in a few runs, each given as many
    examples as the rate measured so far fits into its share of the time left.
    """
    examples = 0

    def counted(example: Any) -> None:
        nonlocal examples
        examples += 1
        check(example)

    def run(count: int) -> None:
        settings(
            max_examples=count,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )(given(strategy)(counted))()

    crashed = True
    try:
        started = time.monotonic()
        deadline = started + BUDGET_SECONDS[scale]
        run(CALIBRATION_EXAMPLES)
        slices = SLICES
        while (now := time.monotonic()) < deadline and slices:
            rate = examples / max(now - started, 1e-3)
            run(max(1, int(rate * (deadline - now) / slices)))
            slices -= 1
        crashed = False
    finally:
        figures.add("fuzz", f"{target}: examples run", examples, held=examples > 0)
        figures.add(
            "fuzz", f"{target}: crashes (not the typed error)", int(crashed), held=not crashed
        )


# -- the package reader ------------------------------------------------------------------------


def _seed_packages() -> list[bytes]:
    """Return valid packages to mutate: deflated, stored, with folders, with a settings file."""
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("settings.json", SETTINGS)
        archive.writestr("lib/", b"")
        archive.writestr("lib/app.js", b"console.log('walkme');\n")
        archive.writestr("index.html", b"<html></html>\n")
    return [good_package(1, files=2), stored.getvalue()]


SEEDS = _seed_packages()


@st.composite
def mutated_zip(draw: st.DrawFn) -> bytes:
    """Draw a valid package with a few byte-level mutations: flipped bits, overwritten, inserted
    or deleted bytes, a cut, positions biased towards the headers at both ends.
    """
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        size = len(data)
        at_end = draw(st.booleans())
        offset = draw(st.integers(0, min(size - 1, 80)))
        position = size - 1 - offset if at_end else draw(st.integers(0, size - 1))
        operation = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut", "copy"]))
        if operation == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "set":
            data[position] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x50, 0x4B]))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        elif operation == "cut":
            del data[position:]
        else:  # a header copied over another place, as a crafted overlap would
            start = draw(st.integers(0, size - 1))
            data[position : position + 30] = data[start : start + 30]
    return bytes(data)


RANDOM_BYTES = st.one_of(
    st.binary(max_size=2048),
    st.binary(max_size=2048).map(lambda tail: b"PK\x03\x04" + tail),
    st.binary(max_size=512).map(lambda head: head + b"PK\x05\x06" + bytes(18)),
)


def read_only_typed_errors(path: Path) -> Callable[[bytes], None]:
    """Return a check that writes the bytes to `path`, reads and builds them as the cycle does,
    and lets only a one-line PackageError escape.
    """
    options = BuildOptions(
        connector="alpha/sandbox",
        overrides={"active": True},
        source_version="fuzz",
        sfsync_version="test",
        limits=LIMITS,
    )

    def check(data: bytes) -> None:
        path.write_bytes(data)
        try:
            build_package(read_package(path, LIMITS), options, workers=1)
        except PackageError as error:
            message = str(error)
        else:
            return
        assert message.splitlines() == [message], message

    return check


def test_fuzz_package_reader_random_bytes(tmp_path: Path, figures: Any, scale: str) -> None:
    """Random bytes (some starting like a ZIP, some ending like one) raise only PackageError."""
    check = read_only_typed_errors(tmp_path / "package.zip")
    run_bounded(figures, scale, "read_package, random bytes", RANDOM_BYTES, check)


def test_fuzz_package_reader_mutated_zips(tmp_path: Path, figures: Any, scale: str) -> None:
    """Valid packages with flipped, inserted, deleted or cut bytes raise only PackageError."""
    check = read_only_typed_errors(tmp_path / "package.zip")
    run_bounded(figures, scale, "read_package, mutated ZIPs", mutated_zip(), check)


# -- the config loader --------------------------------------------------------------------------

BASE_CONFIG = site_config()
BASE_DOCUMENT = tomllib.loads(BASE_CONFIG)
CONFIG_PATH = Path("/etc/sfsync/sfsync.toml")

TOML_LITERALS = st.sampled_from(
    [
        '""', '"0s"', '"-1s"', '"1e999h"', '"x"', "0", "-1", "1e309", "nan", "inf", "true",
        "9999999999999999999999", "1979-05-27T07:32:00Z", "[]", "[1, 2]", "{}", "{ a = 1 }",
        '"\\u0000"', '"../.."', '"/"', '"C:\\\\x"', '"http://x"', '"https://"', "[[1]]",
        "[" * 400 + "]" * 400, "{ a = " * 200 + "1" + " }" * 200,
    ]
)  # fmt: skip


@st.composite
def mutated_config_text(draw: st.DrawFn) -> str:
    """Draw the valid base config with a few line- and character-level mutations."""
    lines = BASE_CONFIG.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        operation = draw(st.sampled_from(["value", "delete", "duplicate", "insert", "chars"]))
        if operation == "value" and "=" in lines[index]:
            key = lines[index].split("=", 1)[0]
            lines[index] = f"{key}= {draw(TOML_LITERALS)}"
        elif operation == "delete":
            del lines[index]
        elif operation == "duplicate":
            lines.insert(index, lines[index])
        elif operation == "insert":
            lines.insert(index, draw(st.text(max_size=40)))
        else:
            line = lines[index]
            cut = draw(st.integers(0, len(line)))
            lines[index] = line[:cut] + draw(st.text(max_size=4)) + line[cut + 1 :]
        if not lines:
            break
    return "\n".join(lines) + "\n"


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Return lists and tables of `children` (a named function: hypothesis cannot read a
    multi-line lambda's source to see that it recurses, and warns).
    """
    return st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=8), children, max_size=3
    )


TOML_VALUES = st.recursive(
    st.none()  # deleted key
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.datetimes(),
    _containers,
    max_leaves=8,
)


def _leaf_paths(document: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for key, value in document.items():
        paths.append((*prefix, key))
        if isinstance(value, dict):
            paths.extend(_leaf_paths(value, (*prefix, key)))
    return paths


CONFIG_KEY_PATHS = _leaf_paths(BASE_DOCUMENT)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value if item is not None]
    return value


@st.composite
def mutated_config_document(draw: st.DrawFn) -> str:
    """Draw the base config as a document with values replaced or deleted at a few key paths
    (wrong types, odd strings, nested tables), written back out as TOML.
    """
    document = tomllib.loads(BASE_CONFIG)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(CONFIG_KEY_PATHS))
        parent = document
        for key in path[:-1]:
            child = parent.get(key)
            if not isinstance(child, dict):
                break
            parent = child
        else:
            parent[path[-1]] = draw(TOML_VALUES)
    return tomli_w.dumps(_without_none(document))


CONFIG_TEXTS = st.one_of(
    mutated_config_text(),
    mutated_config_document(),
    st.text(max_size=300),
    st.dictionaries(st.text(max_size=10), TOML_VALUES, max_size=4).map(
        lambda document: tomli_w.dumps(_without_none(document))
    ),
)


def parse_only_typed_errors(text: str) -> None:
    """Parse config text; let only a ConfigError escape, each line naming the file."""
    try:
        parse_config(text, CONFIG_PATH)
    except ConfigError as error:
        lines = str(error).splitlines()
    else:
        return
    assert lines
    assert all(line.startswith(f"{CONFIG_PATH}: ") for line in lines), lines


def test_fuzz_config_loader_mutated_configs(figures: Any, scale: str) -> None:
    """Mutated, regenerated and random config text raises only ConfigError, one line per
    problem, each naming the file.
    """
    run_bounded(
        figures, scale, "parse_config, mutated configs", CONFIG_TEXTS, parse_only_typed_errors
    )


def test_fuzz_config_loader_random_text(figures: Any, scale: str) -> None:
    """Arbitrary text, TOML-looking or not, raises only ConfigError."""
    text = st.text(alphabet=st.sampled_from("[]{}=.\"'\n #abc0129_-:,\\tTfu\x00"), max_size=400)
    run_bounded(
        figures, scale, "parse_config, random text", text | st.text(), parse_only_typed_errors
    )
