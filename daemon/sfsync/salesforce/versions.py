"""Which API versions an org serves (`GET /services/data/`, no token needed; FACTS 2d).

An org answers 404 NOT_FOUND for every resource under a version it does not serve, which must
never be read as "the record is gone"; a configured version is checked against this list at
authorization and whenever an answer is a 404.
"""

from __future__ import annotations

import threading

import requests

from sfsync.errors import ApiError, SalesforceUnreachableError, UnsupportedApiVersionError

VERSIONS_PATH = "/services/data/"
_OK = 200


def served_versions(http: requests.Session, instance_url: str) -> tuple[str, ...]:
    """Given an org's instance URL, return the API versions it serves, oldest first.

    Raise SalesforceUnreachableError if no answer comes, ApiError if the answer is not the list.
    """
    url = instance_url.rstrip("/") + VERSIONS_PATH
    try:
        response = http.get(url, headers={"Accept": "application/json"}, allow_redirects=False)
    except requests.RequestException as error:
        raise SalesforceUnreachableError(
            f"GET {url} got no answer ({type(error).__name__})"
        ) from None
    try:
        body = response.json() if response.status_code == _OK else None
    except ValueError:
        body = None
    if not isinstance(body, list):
        raise ApiError(f"GET {url} answered HTTP {response.status_code}, not the versions list")
    return tuple(
        str(entry["version"]) for entry in body if isinstance(entry, dict) and "version" in entry
    )


def version_problem(api_version: str, served: tuple[str, ...], instance_url: str) -> str | None:
    """Given the configured version and the versions an org serves, return why it cannot be
    used there, or None.
    """
    if api_version in served:
        return None
    newest = served[-1] if served else "none"
    return (
        f"{instance_url} does not serve API version {api_version} (newest it serves: {newest}); "
        "set [salesforce] api_version to a version every org serves"
    )


class VersionCheck:
    """The versions list of each org, read at most once per process."""

    def __init__(self, http: requests.Session) -> None:
        self._http = http
        self._lock = threading.Lock()
        self._served: dict[str, tuple[str, ...]] = {}

    def require(self, api_version: str, instance_url: str) -> None:
        """Raise UnsupportedApiVersionError if the org at `instance_url` does not serve
        `api_version` (and the errors of `served_versions` if the list cannot be read).
        """
        with self._lock:
            served = self._served.get(instance_url)
        if served is None:
            served = served_versions(self._http, instance_url)
            with self._lock:
                self._served[instance_url] = served
        problem = version_problem(api_version, served, instance_url)
        if problem is not None:
            raise UnsupportedApiVersionError(problem)
