"""Downloading an http source's package into a verified cache, with conditional GETs
(the I/O half of `http_validators.py`).

An unchanged URL costs one request answered 304 and no disk writes. A download goes to a
`.part` file in the cache folder and is renamed into place only when complete and within
`max_bytes`, so the cached package is always a whole one: what was downloaded last, or nothing.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests
import structlog
from filelock import FileLock, Timeout
from requests.exceptions import ChunkedEncodingError, ContentDecodingError
from urllib3.exceptions import ProtocolError

from sfsync.config.schema import Config, HttpSource
from sfsync.errors import NothingPublishedError, SourceError
from sfsync.files import make_private_directories, write_atomically
from sfsync.http_session import HttpSettings, new_http_session
from sfsync.sources.http_validators import (
    Validators,
    body_length_to_check,
    conditional_headers,
    declared_length,
    display_url,
    is_trusted,
    next_validators,
    parse_validators,
    plain_http_problem,
    redact_query,
    render_validators,
)
from sfsync.sources.source import Look, Package

CHUNK_BYTES = 64 * 1024
PACKAGE_NAME = "package.zip"
PART_NAME = "package.zip.part"
VALIDATORS_NAME = "validators.json"
LOCK_NAME = "fetch.lock"
# The CLI and the daemon may fetch the same source at once; a download is bounded by max_bytes
# and the per-read timeout, so the other one waits for it rather than racing on the files.
LOCK_WAIT_SECONDS = 120.0
HTTP_NOT_MODIFIED = 304
HTTP_NOT_FOUND = 404
HTTP_OK = 200
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
# The whole download, headers to last byte: the per-read timeout alone lets a server that sends
# a byte every few seconds keep a fetch (and the fetch lock) going for as long as it likes.
DOWNLOAD_SECONDS = 600.0

log = structlog.get_logger("sfsync.sources")


@dataclass(frozen=True)
class Fetched:
    """The package an http source offers now."""

    path: Path  # the complete downloaded package; stays valid until the next fetch of this source
    version: str  # "etag:<ETag>" when the server gave one, else "sha256:<hex of the bytes>"
    changed: bool  # False when the cached copy is used (304) or the new bytes are the same


def http_session_for(config: Config) -> requests.Session:
    """Given a config, return a session for downloading packages that trusts what Salesforce
    calls trust: the system's CAs plus `[oauth] ca_bundle`, even with REQUESTS_CA_BUNDLE set.

    Raise ConfigError if the configured CA bundle is not a readable file.
    """
    return new_http_session(HttpSettings.from_config(config), follow_redirects=True)


class HttpPackageSource:
    """One system's http source and its cache folder (`package.zip`, `validators.json`)."""

    lock_wait_seconds = LOCK_WAIT_SECONDS

    def __init__(
        self,
        system: str,
        source: HttpSource,
        cache_dir: Path,
        session: requests.Session,
        timeout: float,
        *,
        deadline_seconds: float = DOWNLOAD_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.system = system
        self.source = source
        self.cache_dir = cache_dir
        self.package_path = cache_dir / PACKAGE_NAME
        self._part_path = cache_dir / PART_NAME
        self._validators_path = cache_dir / VALIDATORS_NAME
        self._session = session
        self._timeout = timeout
        self._deadline_seconds = deadline_seconds
        self._monotonic = monotonic
        self._deadline = 0.0
        self._lock = threading.Lock()
        # (inode, size, mtime_ns) of package.zip when its SHA-256 was last computed or written,
        # so that a poll does not hash the cached file again.
        self._verified: tuple[tuple[int, int, int], str] | None = None

    def look(self, now: float) -> Look:  # noqa: ARG002 - a URL has no settle period
        """Return the package the URL offers now, its version as the signature; see `fetch`."""
        fetched = self.fetch()
        return Look(Package(fetched.path, fetched.version), fetched.version)

    def fetch(self) -> Fetched:
        """Return the package the URL offers now, downloading it only if it changed.

        Raise NothingPublishedError if the URL answers 404 and nothing was downloaded before;
        raise SourceError naming the URL if it cannot be reached, answers any other error (even
        with a cached copy: the caller keeps what is live), breaks off, or sends more than
        `max_bytes`.
        """
        with self._lock:
            self._prepare_folder()
            lock = FileLock(
                str(self.cache_dir / LOCK_NAME), timeout=self.lock_wait_seconds, mode=0o600
            )
            try:
                with lock:
                    return self._fetch_locked()
            except Timeout:
                raise self._error(
                    f"another sfsync process has been fetching it for over "
                    f"{self.lock_wait_seconds:g}s; try again later"
                ) from None

    def _fetch_locked(self) -> Fetched:
        self._remove_part()  # left by a crash; under the lock nobody else writes it
        cached_sha256 = self._cached_sha256()
        stored = self._read_validators()
        trusted = is_trusted(stored, self.source.url, cached_sha256)
        conditional = conditional_headers(stored, trusted=trusted)
        # A ZIP does not compress further, and an identity body lets Content-Length be checked.
        self._deadline = self._monotonic() + self._deadline_seconds
        response = self._get({"Accept-Encoding": "identity", **conditional})
        with response:
            if response.status_code == HTTP_NOT_MODIFIED:
                if not conditional or stored is None:
                    raise self._error("answered 304 Not Modified to an unconditional request")
                return Fetched(path=self.package_path, version=stored.version, changed=False)
            if response.status_code == HTTP_NOT_FOUND and cached_sha256 is None:
                raise NothingPublishedError(
                    self._message("answered 404 Not Found; nothing is published there yet")
                )
            if response.status_code != HTTP_OK:
                raise self._error(f"answered HTTP {response.status_code} {response.reason}")
            sha256, size = self._download(response)
        fresh = next_validators(
            stored if trusted else None,
            url=self.source.url,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            sha256=sha256,
        )
        self._write_validators(fresh)
        changed = sha256 != cached_sha256
        log.info(
            "source package downloaded",
            system=self.system,
            url=display_url(self.source.url),
            bytes=size,
            sha256=sha256,
            changed=changed,
        )
        return Fetched(path=self.package_path, version=fresh.version, changed=changed)

    def _prepare_folder(self) -> None:
        try:
            make_private_directories(self.cache_dir, tighten=True)
        except OSError as error:
            raise self._error(
                f"cannot prepare the cache folder {self.cache_dir}: {error.strerror}"
            ) from None

    def _remove_part(self) -> None:
        try:
            self._part_path.unlink(missing_ok=True)
        except OSError as error:
            raise self._error(f"cannot remove {self._part_path}: {error.strerror}") from None

    def _get(self, headers: dict[str, str]) -> requests.Response:
        """GET the URL, following redirects one hop at a time: each hop's target must pass the
        rules the configured URL passes (https, or plain http on loopback), so a redirect
        chain cannot pass through plain http before it ends on https.
        """
        url = self.source.url
        for _ in range(MAX_REDIRECTS + 1):
            response = self._get_one(url, headers)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECTS or not location:
                return response
            response.close()
            url = urljoin(url, location)
            problem = plain_http_problem(url)
            if problem:
                raise self._error(problem)
        raise self._error(f"too many redirects (over {MAX_REDIRECTS})")

    def _get_one(self, url: str, headers: dict[str, str]) -> requests.Response:
        if self._monotonic() >= self._deadline:
            raise self._overdue()
        try:
            return self._session.get(
                url, headers=headers, stream=True, timeout=self._timeout, allow_redirects=False
            )
        except requests.RequestException as error:
            raise self._error(self._describe(error)) from None

    def _download(self, response: requests.Response) -> tuple[str, int]:
        """Stream the body into the part file and rename it over package.zip; return the
        SHA-256 hex and the size of what was written. No part file outlives a failure.
        """
        # At the deadline, a read blocked on a trickling server is cut from another thread.
        shutdown = getattr(response.raw, "shutdown", None)
        cutter = threading.Timer(max(0.0, self._deadline - self._monotonic()), shutdown or _no_op)
        cutter.daemon = True
        cutter.start()
        try:
            sha256, received = self._write_part(response)
            self._part_path.replace(self.package_path)
        except (requests.RequestException, ProtocolError) as error:
            self._part_path.unlink(missing_ok=True)
            if self._monotonic() >= self._deadline:
                raise self._overdue() from None
            raise self._error(self._describe(error)) from None
        except OSError as error:
            self._part_path.unlink(missing_ok=True)
            raise self._error(f"cannot write {self._part_path}: {error.strerror}") from None
        except BaseException:
            self._part_path.unlink(missing_ok=True)
            raise
        finally:
            cutter.cancel()
        self._remember(sha256)
        return sha256, received

    def _write_part(self, response: requests.Response) -> tuple[str, int]:
        limit = self.source.max_bytes
        content_length = response.headers.get("Content-Length")
        declared = declared_length(content_length)
        if declared is not None and declared > limit:
            raise self._too_large()
        expected = body_length_to_check(content_length, response.headers.get("Content-Encoding"))
        digest = hashlib.sha256()
        received = 0
        descriptor = os.open(self._part_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            for chunk in response.iter_content(CHUNK_BYTES):
                if self._monotonic() >= self._deadline:
                    raise self._overdue()
                received += len(chunk)
                if received > limit:
                    raise self._too_large()  # counted as it comes: a server may lie or say nothing
                digest.update(chunk)
                stream.write(chunk)
            stream.flush()
            os.fsync(stream.fileno())
        if expected is not None and received != expected:
            raise self._error(
                f"the download broke off: {received} of {expected} bytes (Content-Length)"
            )
        return digest.hexdigest(), received

    def _overdue(self) -> SourceError:
        return self._error(
            f"the download took over {self._deadline_seconds:g}s in all and was abandoned; "
            "the server is too slow (or stalling on purpose)"
        )

    def _too_large(self) -> SourceError:
        return self._error(
            f"the package is larger than max_bytes ({self.source.max_bytes} bytes); raise "
            f"[systems.{self.system}.source] max_bytes if that is expected"
        )

    def _cached_sha256(self) -> str | None:
        """Return the SHA-256 hex of the cached package.zip, or None if there is none."""
        try:
            status = self.package_path.stat()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise self._error(f"cannot read {self.package_path}: {error.strerror}") from None
        if not stat.S_ISREG(status.st_mode):
            return None
        key = (status.st_ino, status.st_size, status.st_mtime_ns)
        if self._verified is not None and self._verified[0] == key:
            return self._verified[1]
        digest = hashlib.sha256()
        try:
            with self.package_path.open("rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
        except OSError as error:
            raise self._error(f"cannot read {self.package_path}: {error.strerror}") from None
        self._verified = (key, digest.hexdigest())
        return self._verified[1]

    def _remember(self, sha256: str) -> None:
        try:
            status = self.package_path.stat()
        except OSError:
            self._verified = None  # the next fetch hashes the file instead
            return
        self._verified = ((status.st_ino, status.st_size, status.st_mtime_ns), sha256)

    def _read_validators(self) -> Validators | None:
        try:
            return parse_validators(self._validators_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None  # a missing or unreadable record only costs a full download

    def _write_validators(self, validators: Validators) -> None:
        try:
            write_atomically(
                self._validators_path, render_validators(validators, self.source.url), mode=0o600
            )
        except OSError as error:
            raise self._error(f"cannot write {self._validators_path}: {error.strerror}") from None

    def _describe(self, error: requests.RequestException | ProtocolError) -> str:
        if isinstance(error, requests.exceptions.SSLError):
            what = "TLS failed (is the certificate trusted? see [oauth] ca_bundle)"
        elif isinstance(error, requests.Timeout):
            what = f"no answer within {self._timeout:g}s"
        elif isinstance(error, ChunkedEncodingError | ContentDecodingError):
            what = "the download broke off"
        elif isinstance(error, requests.ConnectionError):
            what = "cannot connect"
        elif isinstance(error, requests.TooManyRedirects):
            what = "too many redirects"
        else:
            what = "the request failed"
        return f"{what}: {redact_query(_root_cause(error), self.source.url)}"

    def _message(self, problem: str) -> str:
        return f"source URL {display_url(self.source.url)} (system {self.system}): {problem}"

    def _error(self, problem: str) -> SourceError:
        return SourceError(self._message(problem))


def _no_op() -> None:
    """Stand in for `shutdown` on a response that has none (a test double's)."""


def _root_cause(error: BaseException) -> str:
    """Given an exception from requests, return the innermost reason it wraps, as text.

    requests and urllib3 nest the real cause (an errno, an SSL verification message) inside
    exceptions whose text repeats the whole URL; the innermost one says what happened.
    """
    seen: set[int] = set()
    current = error
    while id(current) not in seen:
        seen.add(id(current))
        reason = getattr(current, "reason", None)
        first = current.args[0] if current.args else None
        if isinstance(reason, BaseException):
            current = reason
        elif isinstance(first, BaseException):
            current = first
        elif current.__cause__ is not None:
            current = current.__cause__
        else:
            break
    if isinstance(current, OSError) and current.strerror:
        return current.strerror
    return str(current) or type(current).__name__
