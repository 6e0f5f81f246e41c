"""The shipped example config is valid and documents every key the schema knows."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

from pydantic import BaseModel

from sfsync.config import load_config
from sfsync.config.schema import Config

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "sfsync.example.toml"


def schema_keys(model: type[BaseModel]) -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(name)
        for inner in _models_in(field.annotation):
            keys |= schema_keys(inner)
    return keys


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for argument in typing.get_args(annotation):
        found += _models_in(argument)
    if isinstance(annotation, types.UnionType):
        for argument in annotation.__args__:
            found += _models_in(argument)
    return found


def test_example_config_is_valid() -> None:
    """config/sfsync.example.toml passes validation as shipped."""
    loaded = load_config(EXAMPLE)
    assert [connector.name for connector in loaded.connectors] == [
        "lightning/sandbox",
        "lightning/production",
    ]


def test_example_config_mentions_every_key() -> None:
    """Every key of the schema appears in the example, set or commented, so none is undocumented."""
    text = EXAMPLE.read_text()
    written = set(re.findall(r"([a-z_]+)\s*=", text))
    # Table names ([daemon], [systems.x.environments.y]) are keys too.
    for header in re.findall(r"^\[([^\]]+)\]", text, flags=re.MULTILINE):
        written |= set(header.split("."))
    missing = schema_keys(Config) - written
    assert not missing, f"undocumented keys: {sorted(missing)}"


def test_demo_config_is_valid() -> None:
    """examples/demo.toml, used by `make demo`, passes validation."""
    loaded = load_config(ROOT / "examples" / "demo.toml")
    assert loaded.config.daemon.state_dir == ROOT / ".demo-state"
