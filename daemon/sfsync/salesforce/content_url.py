"""The address a browser loads a Static Resource from (SPEC section 7, FACTS 2d): what an admin
gives the vendor SDK as its self-hosted content location.

The API's `instance_url` is not the serving host: Lightning and Visualforce pages load
resources from the org's Visualforce domain, in the timestamp form that changes on every update
(so no cache keeps an old copy). The host is derived from the My Domain name, which FACTS marks
as common knowledge rather than a documented rule, so the row says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sfsync.config.schema import is_loopback_host

_PRODUCTION_SUFFIX = ".my.salesforce.com"
_SANDBOX_SUFFIX = ".sandbox.my.salesforce.com"
GUESSED_HOST_NOTE = (
    "host derived from the My Domain (<name>--c.vf.force.com); an Experience Cloud site serves "
    "it as <site>/sfsites/c/resource/... instead"
)
UNKNOWN_HOST_NOTE = "the serving host could not be derived; this is the API host"


@dataclass(frozen=True)
class ContentUrl:
    """The URL, and a note when its host is a guess."""

    url: str
    note: str | None


def serving_host(instance_url: str) -> tuple[str, str | None]:
    """Given an org's instance URL, return the scheme and host that serve its resources, and a
    note when that is a guess.
    """
    parts = urlsplit(instance_url)
    host = (parts.hostname or "").lower()
    if is_loopback_host(host):
        return f"{parts.scheme}://{parts.netloc}", None
    if host.endswith(_SANDBOX_SUFFIX):
        name = host.removesuffix(_SANDBOX_SUFFIX)
        return f"https://{name}--c.sandbox.vf.force.com", GUESSED_HOST_NOTE
    if host.endswith(_PRODUCTION_SUFFIX):
        name = host.removesuffix(_PRODUCTION_SUFFIX)
        return f"https://{name}--c.vf.force.com", GUESSED_HOST_NOTE
    return f"{parts.scheme}://{parts.netloc}", UNKNOWN_HOST_NOTE


def content_url(
    instance_url: str, resource: str, live_since: datetime | None, namespace: str | None = None
) -> ContentUrl:
    """Given an org's instance URL, the resource name, when the current content went live and
    the org's namespace, return the resource's address in timestamp form (the plain form while
    nothing is live yet).
    """
    base, note = serving_host(instance_url)
    name = f"{namespace}__{resource}" if namespace else resource
    if live_since is None:
        return ContentUrl(f"{base}/resource/{name}/", note)
    stamp = int(live_since.timestamp() * 1000)
    return ContentUrl(f"{base}/resource/{stamp}/{name}/", note)
