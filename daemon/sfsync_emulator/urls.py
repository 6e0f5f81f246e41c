"""Routing: which endpoint answers which path, and which api kind a path belongs to."""

from __future__ import annotations

from werkzeug.routing import Map, Rule

_DATA = "/services/data/v<version>"


def _both(path: str, endpoint: str) -> list[Rule]:
    """Return a rule for the REST path and one for its Tooling twin."""
    return [
        Rule(f"{_DATA}{path}", endpoint=endpoint, defaults={"tooling": False}),
        Rule(f"{_DATA}/tooling{path}", endpoint=endpoint, defaults={"tooling": True}),
    ]


URL_MAP = Map(
    [
        Rule("/services/oauth2/authorize", endpoint="oauth.authorize"),
        Rule("/services/oauth2/token", endpoint="oauth.token"),
        Rule("/services/oauth2/revoke", endpoint="oauth.revoke"),
        Rule("/services/oauth2/userinfo", endpoint="oauth.userinfo"),
        Rule("/id/<org_id>/<user_id>", endpoint="oauth.identity"),
        Rule("/setup/secur/RemoteAccessErrorPage.apexp", endpoint="oauth.error_page"),
        Rule("/setup/connect", endpoint="oauth.device_page"),
        Rule(f"{_DATA}/limits", endpoint="rest.limits"),
        *_both("/query", "rest.query"),
        *_both("/sobjects/<sobject>", "rest.collection"),
        *_both("/sobjects/<sobject>/<record_id>", "rest.record"),
        *_both("/sobjects/<sobject>/<record_id>/<field>", "rest.field"),
        Rule(f"{_DATA}/metadata/deployRequest", endpoint="metadata.deploy"),
        Rule(f"{_DATA}/metadata/deployRequest/<deploy_id>", endpoint="metadata.status"),
        Rule("/services/Soap/m/<version>", endpoint="soap.metadata"),
        Rule("/services/Soap/m/<version>/<path:rest>", endpoint="soap.metadata"),
        Rule("/resource/<path:rest>", endpoint="resource.serve"),
        Rule("/_emulator/faults", endpoint="control.faults"),
        Rule("/_emulator/requests", endpoint="control.requests"),
        Rule("/_emulator/device", endpoint="control.device"),
        Rule("/_emulator/clients", endpoint="control.clients"),
        Rule("/services/data", endpoint="rest.versions"),
    ],
    strict_slashes=False,
    merge_slashes=False,
)

LOGIN_HOST_ENDPOINTS = frozenset(
    {
        "oauth.authorize",
        "oauth.token",
        "oauth.revoke",
        "oauth.userinfo",
        "oauth.identity",
        "oauth.error_page",
        "oauth.device_page",
        "control.faults",
        "control.requests",
        "control.device",
        "control.clients",
        "rest.versions",
    }
)


def classify(path: str) -> str:
    """Return the api kind of a path: oauth, rest, tooling, metadata, soap, resource, control
    or versions (`GET /services/data/`).
    """
    kind = "rest"
    if path.startswith("/_emulator/"):
        kind = "control"
    elif path.startswith(("/services/oauth2/", "/id/", "/setup/")):
        kind = "oauth"
    elif path.startswith("/services/Soap/"):
        kind = "soap"
    elif path.startswith("/resource/"):
        kind = "resource"
    elif path.rstrip("/") == "/services/data":
        kind = "versions"  # no token, no API budget, no Sforce-Limit-Info
    elif path.startswith("/services/data/"):
        parts = path.split("/")
        if len(parts) > 4 and parts[4] == "tooling":  # noqa: PLR2004 - /services/data/vNN/tooling
            kind = "tooling"
        elif len(parts) > 4 and parts[4] == "metadata":  # noqa: PLR2004
            kind = "metadata"
    return kind


def data_version(path: str) -> str | None:
    """Return the API version of a `/services/data/vNN.N/...` path, or None for other paths."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1:3] == ["services", "data"] and parts[3].startswith("v"):  # noqa: PLR2004
        return parts[3][1:]
    return None
