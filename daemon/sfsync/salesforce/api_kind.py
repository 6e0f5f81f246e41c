"""Naming which Salesforce API a request went to, for the `api` label of the request counter."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_DATA = re.compile(r"^/services/data/v[0-9.]+/(?P<rest>.*)$")


def api_of(url: str) -> str:
    """Given a request URL, return "tooling", "metadata", "rest", "oauth" or "other"."""
    path = urlsplit(url).path
    if path.startswith(("/services/oauth2/", "/id/")):
        return "oauth"
    if path.startswith("/services/Soap/m/"):
        return "metadata"
    match = _DATA.match(path)
    if match is None:
        return "other"
    rest = match.group("rest")
    if rest.startswith("tooling/"):
        return "tooling"
    if rest.startswith("metadata/"):
        return "metadata"
    return "rest"
