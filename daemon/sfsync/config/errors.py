"""Turning validation problems into lines an operator can act on.

Each line names the file, the key path and the problem, so that one grep finds it and one
line is enough to fix it (borgmatic's `format_json_error` is the model).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

_TAGS = frozenset({"dir", "http"})  # discriminator values pydantic puts into the location

_MESSAGES = {
    "extra_forbidden": "unknown key (check its spelling against config/sfsync.example.toml)",
    "missing": "required key is missing",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "union_tag_invalid": 'type must be "dir" or "http"',
    "union_tag_not_found": 'type is missing: "dir" or "http"',
}


def format_key_path(location: Sequence[str | int]) -> str:
    """Given a pydantic error location, return the dotted TOML key path an operator would write."""
    parts: list[str] = []
    for index, item in enumerate(location):
        # pydantic inserts the union's tag after "source"; it is not a key in the file.
        if index > 0 and location[index - 1] == "source" and item in _TAGS:
            continue
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif _needs_quotes(item):
            parts.append(_quoted(item))
        else:
            parts.append(item)
    return ".".join(parts) or "(top level)"


def _quoted(key: str) -> str:
    # TOML lets a quoted key hold any character, line breaks included (as escapes); written in
    # JSON's quoting (which TOML shares) the problem stays on one line.
    return json.dumps(key, ensure_ascii=not key.isprintable())


def _needs_quotes(key: str) -> bool:
    return not key or not all(char.isalnum() or char in "_-" for char in key)


def describe_error(error: ErrorDetails) -> str:
    """Given one pydantic error, return what is wrong, in words for the operator."""
    kind = error["type"]
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    message = error["msg"]
    # pydantic prefixes messages raised by our validators with "Value error, ".
    return message.removeprefix("Value error, ")


def validation_lines(path: Path, error: ValidationError) -> list[str]:
    """Given a config file and pydantic's error, return one line per problem."""
    return problem_lines(
        path, ((tuple(detail["loc"]), describe_error(detail)) for detail in error.errors())
    )


def problem_lines(path: Path, problems: Iterable[tuple[Sequence[str | int], str]]) -> list[str]:
    """Given a config file and (key path, problem) pairs, return one line per problem."""
    return [
        f"{path}: at '{format_key_path(location)}': {problem}" for location, problem in problems
    ]
