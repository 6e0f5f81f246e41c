"""Naming rules for what the config names: Static Resources, systems and environments."""

from __future__ import annotations

import re

# Salesforce: letters, digits and underscores, starting with a letter, no two underscores in
# a row, not ending with an underscore (FACTS.md section 2d).
_RESOURCE_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)")
# Salesforce's own field is 255 characters, but the UI refuses long developer names; 80 is
# the common developer-name limit, so a name that passes here also passes in Setup.
RESOURCE_NAME_MAX = 80

# Systems and environments become keyring user names ("system/env"), metric labels and file
# names, so they stay within a conservative alphabet.
_LABEL = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def authorize_arguments(connector: str) -> str:
    """Given "system/env", return the options that select that connector in `sfsync authorize`
    and `sfsync revoke`, so that every piece of advice can be pasted as it is.
    """
    system, _, environment = connector.partition("/")
    return f"--env {environment} --system {system}"


def resource_name_problem(name: str) -> str | None:
    """Given a Static Resource name, return what is wrong with it, or None if it is valid."""
    if not name:
        return "a Static Resource name cannot be empty"
    if len(name) > RESOURCE_NAME_MAX:
        return f"{name!r} is longer than {RESOURCE_NAME_MAX} characters"
    if _RESOURCE_NAME.fullmatch(name):
        return None
    if not name[0].isascii() or not name[0].isalpha():
        reason = "must start with a letter"
    elif "__" in name:
        reason = "must not contain two underscores in a row"
    elif name.endswith("_"):
        reason = "must not end with an underscore"
    else:
        reason = "may contain only letters, digits and underscores"
    return f"{name!r} is not a valid Static Resource name: it {reason}"


def label_problem(name: str, what: str) -> str | None:
    """Given a system or environment name, return what is wrong with it, or None if it is usable."""
    if _LABEL.fullmatch(name):
        return None
    return (
        f"{what} name {name!r} must be 1-40 characters of lowercase letters, digits, '-' or '_', "
        "starting with a letter"
    )
