"""What an http source remembers between polls, and what it may send and say (pure: no I/O).

`http.py` does the downloading; everything here takes strings and returns data, so the rules
that keep a 304 from handing over the wrong bytes can be tested without a server.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit, urlunsplit

from sfsync.config.schema import is_loopback_host

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
REDACTED_QUERY = "[redacted]"


@dataclass(frozen=True)
class Validators:
    """What the last complete download of a source was, and how to ask whether it changed.

    `url_sha256` identifies the URL without keeping it: signed CDN URLs carry tokens in the
    query string, and the state folder is not where secrets belong (SPEC section 6).
    """

    url_sha256: str
    etag: str | None
    last_modified: str | None
    sha256: str  # of the cached package.zip
    version: str  # the source version reported for these bytes


def url_fingerprint(url: str) -> str:
    """Given a URL, return the SHA-256 hex of it, to tell a changed URL without storing it."""
    return hashlib.sha256(url.encode()).hexdigest()


def display_url(url: str) -> str:
    """Given a URL, return it safe to log: scheme, host, port and path only.

    The query string (CDN signatures), the fragment and any user:password@ are dropped.
    """
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def redact_query(text: str, url: str) -> str:
    """Given any text (an exception's message, say) and the URL, return the text with the URL's
    query string replaced, wherever it appears, and on one line.
    """
    parts = urlsplit(url)
    if parts.query:
        text = text.replace(parts.query, REDACTED_QUERY)
        # requests may re-encode the query before it lands in a message; the path still leads it.
        if parts.path:
            redacted = f"{parts.path}?{REDACTED_QUERY}"
            text = re.sub(re.escape(parts.path) + r"\?[^\s'\"()]+", lambda _: redacted, text)
    return " ".join(text.split())


def version_for(etag: str | None, sha256: str) -> str:
    """Given a response's ETag (or None) and the SHA-256 hex of its body, return the source
    version for the manifest.
    """
    return f"etag:{etag}" if etag else f"sha256:{sha256}"


def is_trusted(stored: Validators | None, url: str, cached_sha256: str | None) -> bool:
    """Given the stored validators, the configured URL and the SHA-256 of the cached package
    (None when there is none), return whether a 304 for them would mean the cached bytes.

    They are trusted only when they were recorded for these very bytes and this very URL: a
    crash between replacing the package and recording its validators, a hand-edited file or a
    new URL must all lead to a full download.
    """
    return (
        stored is not None
        and cached_sha256 is not None
        and stored.sha256 == cached_sha256
        and stored.url_sha256 == url_fingerprint(url)
    )


def conditional_headers(stored: Validators | None, *, trusted: bool) -> dict[str, str]:
    """Given the stored validators and whether they are trusted, return the conditional
    request headers to send (empty for an unconditional GET).
    """
    if stored is None or not trusted:
        return {}
    headers = {}
    if stored.etag:
        headers["If-None-Match"] = stored.etag
    if stored.last_modified:
        headers["If-Modified-Since"] = stored.last_modified
    return headers


def next_validators(
    stored: Validators | None,
    *,
    url: str,
    etag: str | None,
    last_modified: str | None,
    sha256: str,
) -> Validators:
    """Given the stored validators, the URL and what a 200 answer gave, return the validators
    to record.

    When the bytes are the ones already recorded, their version is kept: servers behind a
    load balancer may give the same file different ETags, and a new label on the same bytes
    must not rebuild and push every connector.
    """
    unchanged = stored is not None and stored.sha256 == sha256
    return Validators(
        url_sha256=url_fingerprint(url),
        etag=etag or None,
        last_modified=last_modified or None,
        sha256=sha256,
        version=stored.version if stored is not None and unchanged else version_for(etag, sha256),
    )


def render_validators(validators: Validators, url: str) -> bytes:
    """Given validators and the URL they are for, return the JSON to store (with the URL in
    its loggable form, for a human reading the file).
    """
    document = {"url": display_url(url), **asdict(validators)}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def parse_validators(text: str) -> Validators | None:
    """Given the stored JSON, return the validators it holds, or None if it is not exactly what
    `render_validators` writes (then the next GET is unconditional).
    """
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    url_sha256 = document.get("url_sha256")
    sha256 = document.get("sha256")
    version = document.get("version")
    etag = document.get("etag")
    last_modified = document.get("last_modified")
    if not (
        isinstance(url_sha256, str)
        and _SHA256_HEX.match(url_sha256)
        and isinstance(sha256, str)
        and _SHA256_HEX.match(sha256)
        and isinstance(version, str)
        and version
        and (etag is None or isinstance(etag, str))
        and (last_modified is None or isinstance(last_modified, str))
    ):
        return None
    return Validators(
        url_sha256=url_sha256,
        etag=etag,
        last_modified=last_modified,
        sha256=sha256,
        version=version,
    )


def declared_length(content_length: str | None) -> int | None:
    """Given a Content-Length header value (or None), return the length it declares, or None if
    it declares none that can be trusted.

    requests joins repeated headers with ", "; repeats that agree are one length.
    """
    if content_length is None:
        return None
    values = {value.strip() for value in content_length.split(",")}
    if len(values) != 1:
        return None
    (value,) = values
    return int(value) if value.isdigit() else None


def body_length_to_check(content_length: str | None, content_encoding: str | None) -> int | None:
    """Given a response's Content-Length and Content-Encoding, return how many bytes the
    decoded body must have, or None when that cannot be known.

    With a content coding, Content-Length counts the encoded bytes, not the ones written.
    """
    if content_encoding and content_encoding.strip().lower() != "identity":
        return None
    return declared_length(content_length)


def plain_http_problem(url: str) -> str | None:
    """Given the URL a response finally came from (after redirects), return why it may not be
    used, or None if it may: plain http is allowed for loopback only, as in the config.
    """
    parts = urlsplit(url)
    if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
        return f"was redirected to plain http at {parts.hostname}; only https is accepted"
    return None
