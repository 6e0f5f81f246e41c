"""The Static Resource through the Tooling API, with simple-salesforce (FACTS.md section 2)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import pybase64
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError as LibrarySalesforceError

from sfsync.config.names import resource_name_problem
from sfsync.errors import ApiError, SalesforceUnreachableError
from sfsync.salesforce.limits import ApiUsage, parse_limit_info
from sfsync.salesforce.retry import TransientApiError
from sfsync.salesforce.session import ConnectorSession

T = TypeVar("T")
CONTENT_TYPE = "application/zip"  # what makes Salesforce serve paths inside the ZIP
_SERVER_ERROR = 500
_RESOURCE_QUERY = (
    "SELECT Id, Name, NamespacePrefix, BodyLength, ContentType, CacheControl, SystemModstamp "
    "FROM StaticResource WHERE Name = '{name}'"
)
# In an org with a namespace (a packaging Developer Edition org) the org's own resources carry
# it, so `NamespacePrefix = null` finds nothing there (FACTS 2d); other prefixes are installed
# packages' resources of the same name, never ours.
_NAMESPACE_QUERY = "SELECT NamespacePrefix FROM Organization"
_RETRYABLE_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW"})


class ResourceNotFoundError(ApiError):
    """The Static Resource Id sfsync remembered no longer exists in the org."""


class DuplicateResourceError(ApiError):
    """A Static Resource of that name already exists (created by someone else meanwhile)."""


@dataclass(frozen=True)
class ResourceInfo:
    """A Static Resource as the Tooling query describes it."""

    id: str
    name: str
    body_length: int | None
    content_type: str | None
    cache_control: str | None


def describe_library_error(error: LibrarySalesforceError) -> tuple[str, str]:
    """Given a simple-salesforce error, return Salesforce's (errorCode, message), verbatim."""
    content: Any = error.content
    text = content.decode(errors="replace") if isinstance(content, bytes) else str(content)
    return _first_error(content, text)


def _first_error(content: object, text: str) -> tuple[str, str]:
    """Given a decoded error answer and its text, return the first (errorCode, message) of
    Salesforce's JSON list, or ("", the start of the text) when it is not one.
    """
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode", "")), str(first.get("message", ""))
    return "", text.strip()[:300]


def translate_error(connector: str, action: str, error: LibrarySalesforceError) -> ApiError:
    """Given a failed call, return the sfsync error for it: transient ones can be retried."""
    code, message = describe_library_error(error)
    return classify_error(connector, action, error.status, code, message)


def classify_error(connector: str, action: str, status: int, code: str, message: str) -> ApiError:
    """Given a failed call's HTTP status and Salesforce's (errorCode, message), return the
    sfsync error for it: transient ones can be retried.
    """
    text = f"{connector}: {action} failed: HTTP {status}" + (
        f" {code}: {message}" if code else f": {message}"
    )
    if status >= _SERVER_ERROR or code in _RETRYABLE_CODES:
        return TransientApiError(text)
    if code == "NOT_FOUND" or status == 404:  # noqa: PLR2004 - HTTP status, named above
        return ResourceNotFoundError(text)
    if code in {"DUPLICATE_VALUE", "DUPLICATE_DEVELOPER_NAME"}:
        return DuplicateResourceError(text)
    return ApiError(text)


# Multiple of 3, so each piece encodes to whole base64 quanta; 4 bytes out per 3 in.
_PIECE_BYTES = 3 * 64 * 1024
_TAIL = b'"}'

# A ZIP as one `bytes`, or as the pieces that join into it (`BuiltPackage.pieces`).
Zip = bytes | Sequence[bytes]


class ResourceBody:
    """The JSON body of a Static Resource write: the other fields, then the ZIP base64-encoded
    into "Body", produced in pieces as it is sent (with its length known up front, so it goes as
    one Content-Length request). The base64 of a 5 MB ZIP is 7 MB; held whole, with
    simple-salesforce's str and JSON copies, it cost four such copies per push in flight.
    """

    def __init__(self, fields: Mapping[str, str], data: Zip) -> None:
        head = json.dumps(dict(fields), ensure_ascii=True)  # "{...}": Body goes before the "}"
        separator = ", " if fields else ""
        self._head = f'{head[:-1]}{separator}"Body": "'.encode("ascii")
        self._pieces: tuple[bytes, ...] = (data,) if isinstance(data, bytes) else tuple(data)
        self._size = sum(len(piece) for piece in self._pieces)

    def __len__(self) -> int:
        """Return the body's length in bytes."""
        return len(self._head) + 4 * ((self._size + 2) // 3) + len(_TAIL)

    def __iter__(self) -> Iterator[bytes]:
        """Yield the body in pieces; each iteration starts from the beginning (a resend)."""
        yield self._head
        for chunk in aligned_chunks(self._pieces, _PIECE_BYTES):
            # pybase64 encodes with SIMD, over ten times faster than binascii: for a fan-out
            # to many orgs, the base64 of every push was a large share of the daemon's CPU.
            yield pybase64.b64encode(chunk)
        yield _TAIL

    def __bytes__(self) -> bytes:
        """Return the whole body at once (for tests and logs of small bodies)."""
        return b"".join(self)


def aligned_chunks(pieces: Sequence[bytes], size: int) -> Iterator[bytes | memoryview]:
    """Given byte pieces and a chunk size (a multiple of 3), yield their concatenation in
    chunks of at most `size` bytes, each a multiple of 3 bytes long but the last, so that the
    chunks' base64 encodings joined are the base64 of the whole.

    A large piece is yielded as views of itself; only small pieces, and the one or two bytes
    a piece ends with past a multiple of 3, are gathered into a copy with what follows them.
    """
    pending = bytearray()
    for piece in pieces:
        view = memoryview(piece)
        if pending:
            take = min(len(view), size - len(pending))
            pending += view[:take]
            view = view[take:]
            if len(pending) < size:
                continue
            yield bytes(pending)
            pending.clear()
        whole = len(view) - len(view) % size
        for start in range(0, whole, size):
            yield view[start : start + size]
        rest = view[whole:]
        aligned = len(rest) - len(rest) % 3
        if aligned:
            yield rest[:aligned]
        pending += rest[aligned:]
    if pending:
        yield bytes(pending)


def _send_json(client: Salesforce, method: str, action: str, body: ResourceBody) -> Any:
    """Given a client, a method, a Tooling action and a JSON body already encoded, send it as
    `toolingexecute` would (the same headers and error routing) and return the parsed answer,
    or None for an empty one.
    """
    # The client's own sender: its headers, its 401 handling and its Sforce-Limit-Info reading
    # apply as for toolingexecute, which only takes a dict to encode.
    answer = client._call_salesforce(  # noqa: SLF001 - see above
        method, client.tooling_url + action, name="toolingexecute", data=body
    )
    if not answer.content:
        return None
    try:
        return answer.json()
    except ValueError:  # as toolingexecute does: the caller judges what came
        return answer.text


class ToolingClient:
    """Find, create, update and read one org's Static Resources; one API call per method."""

    def __init__(
        self,
        session: ConnectorSession,
        on_usage: Callable[[ApiUsage], None] | None = None,
    ) -> None:
        self._session = session
        self._on_usage = on_usage

    def _call(self, action: str, call: Callable[[Salesforce], T]) -> T:
        def run(client: Salesforce) -> T:
            try:
                return call(client)
            finally:
                usage = client.api_usage.get("api-usage")
                if usage is not None and self._on_usage is not None:
                    self._on_usage(ApiUsage(used=int(usage.used), allowed=int(usage.total)))

        try:
            return self._session.with_salesforce(run)
        except LibrarySalesforceError as error:
            translated = translate_error(self._session.connector, action, error)
            if isinstance(translated, ResourceNotFoundError):
                # A whole API version the org does not serve answers 404 too: that must never
                # be taken for "the resource was deleted" (SPEC section 7).
                self._session.require_api_version()
            raise translated from None
        except requests.RequestException as error:
            raise SalesforceUnreachableError(
                f"{self._session.connector}: {action} got no answer ({type(error).__name__})"
            ) from None

    def find_resource(self, name: str) -> ResourceInfo | None:
        """Given a Static Resource name, return it as the org has it, or None."""
        if resource_name_problem(name):
            raise ApiError(f"{self._session.connector}: refusing to query for {name!r}")
        # The name passed Salesforce's naming rules (letters, digits, underscores), so it
        # cannot break out of the quoted literal.
        soql = _RESOURCE_QUERY.format(name=name)
        answer = self._call(
            f"query of Static Resource {name}",
            lambda client: client.toolingexecute(f"query/?q={quote(soql)}"),
        )
        records = answer.get("records", []) if isinstance(answer, dict) else []
        record = self._own(records)
        if record is None:
            return None
        return ResourceInfo(
            id=record["Id"],
            name=record["Name"],
            body_length=record.get("BodyLength"),
            content_type=record.get("ContentType"),
            cache_control=record.get("CacheControl"),
        )

    def _own(self, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Given the resources of one name, return the org's own: no namespace, or the org's
        namespace (asked only when some carry one).
        """
        for record in records:
            if not record.get("NamespacePrefix"):
                return record
        if not records:
            return None
        answer = self._call(
            "query of the org's namespace", lambda client: client.query(_NAMESPACE_QUERY)
        )
        rows = answer.get("records", []) if isinstance(answer, dict) else []
        namespace = rows[0].get("NamespacePrefix") if rows else None
        for record in records:
            if namespace and record.get("NamespacePrefix") == namespace:
                return record
        return None

    def create_resource(self, name: str, data: Zip, *, cache_control: str, description: str) -> str:
        """Given a name, the ZIP and its settings, create the Static Resource; return its Id."""
        fields = {
            "Name": name,
            "ContentType": CONTENT_TYPE,
            "CacheControl": cache_control,
            "Description": description[:255],
        }
        body = ResourceBody(fields, data)
        answer = self._call(
            f"create of Static Resource {name}",
            lambda client: _send_json(client, "POST", "sobjects/StaticResource", body),
        )
        if not isinstance(answer, dict) or not answer.get("id"):
            raise ApiError(f"{self._session.connector}: create of {name} answered {answer!r}")
        return str(answer["id"])

    def update_body(
        self, resource_id: str, data: Zip, *, cache_control: str, description: str
    ) -> None:
        """Given a Static Resource Id and the ZIP, replace its body (one PATCH, 204)."""
        fields = {
            "ContentType": CONTENT_TYPE,
            "CacheControl": cache_control,
            "Description": description[:255],
        }
        body = ResourceBody(fields, data)
        self._call(
            f"update of Static Resource {resource_id}",
            lambda client: _send_json(
                client, "PATCH", f"sobjects/StaticResource/{resource_id}", body
            ),
        )

    def download_body(self, resource_id: str) -> bytes:
        """Given a Static Resource Id, return its body's bytes as the org serves them."""
        path = (
            f"/services/data/v{self._session.api_version}/tooling/sobjects/StaticResource/"
            f"{resource_id}/Body"
        )
        # simple-salesforce decodes answers as JSON or text; the body is raw bytes, so this one
        # call goes through the session directly.
        response = self._session.request("GET", path)
        usage_header = response.headers.get("Sforce-Limit-Info")
        if usage_header and self._on_usage is not None:
            usage = parse_limit_info(usage_header)
            if usage is not None:
                self._on_usage(usage)
        if response.status_code != 200:  # noqa: PLR2004 - HTTP OK
            code, message = _error_of(response)
            raise classify_error(
                self._session.connector,
                f"download of Static Resource {resource_id}",
                response.status_code,
                code,
                message,
            )
        return response.content


def _error_of(response: requests.Response) -> tuple[str, str]:
    """Given a failed raw answer, return Salesforce's (errorCode, message), as for the calls
    simple-salesforce makes.
    """
    try:
        content: object = response.json()
    except ValueError:
        content = None
    return _first_error(content, response.text)
