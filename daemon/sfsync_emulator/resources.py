"""StaticResource records of one org and the rules Salesforce applies when they are written."""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import pybase64

from sfsync_emulator import ids
from sfsync_emulator.errors import ApiError, not_found

MAX_BODY_BYTES = 5_242_880
MAX_NAME_LENGTH = 255  # [U] Name is a 255-character field per describe; the UI may enforce less.
CACHE_CONTROLS = ("Private", "Public")
NAME_RULE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$")
NAME_RULE_MESSAGE = (
    "The Name field can only contain underscores and alphanumeric characters. It must be unique,"
    " begin with a letter, not include spaces, not end with an underscore, and not contain two"
    " consecutive underscores."
)
WRITABLE = {"Name", "ContentType", "Body", "CacheControl", "Description"}
READABLE = (
    "Id",
    "Name",
    "NamespacePrefix",
    "Description",
    "ContentType",
    "BodyLength",
    "Body",
    "CacheControl",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)
_CANONICAL = {name.lower(): name for name in READABLE}


@dataclass
class StaticResource:
    """One stored StaticResource, with every body SHA-256 it has ever held."""

    id: str
    name: str
    body: bytes
    content_type: str
    cache_control: str
    description: str | None
    created_date: float
    system_modstamp: float
    user_id: str
    history: list[str] = field(default_factory=list)
    namespace_prefix: str | None = None  # FACTS 2d: the org's namespace, null in most orgs

    @property
    def body_length(self) -> int:
        """Return the body size in bytes, as `BodyLength` reports it."""
        return len(self.body)

    @property
    def sha256(self) -> str:
        """Return the hex SHA-256 of the current body."""
        return hashlib.sha256(self.body).hexdigest()

    def field_value(self, name: str, body_url: str) -> Any:
        """Given a canonical field name, return its JSON value (`Body` is a URL, not bytes)."""
        values: dict[str, Any] = {
            "Id": self.id,
            "Name": self.name,
            "NamespacePrefix": self.namespace_prefix,
            "Description": self.description,
            "ContentType": self.content_type,
            "BodyLength": self.body_length,
            "Body": body_url,
            "CacheControl": self.cache_control,
            "CreatedDate": ids.sf_datetime(self.created_date),
            "CreatedById": self.user_id,
            "LastModifiedDate": ids.sf_datetime(self.system_modstamp),
            "LastModifiedById": self.user_id,
            "SystemModstamp": ids.sf_datetime(self.system_modstamp),
        }
        return values[name]


def canonical_field(name: str) -> str | None:
    """Return the field's canonical spelling (Salesforce field names ignore case), or None."""
    return _CANONICAL.get(name.lower())


def check_name(name: str) -> None:
    """Raise the Salesforce error for a StaticResource name that breaks the naming rules."""
    if not NAME_RULE.match(name) or len(name) > MAX_NAME_LENGTH:
        # [U] the exact error code for a bad name through REST/Tooling was not found.
        raise ApiError(400, "FIELD_INTEGRITY_EXCEPTION", NAME_RULE_MESSAGE, ["Name"])


def check_body_size(body: bytes) -> None:
    """Raise the error for a body over the 5 MB limit."""
    if len(body) > MAX_BODY_BYTES:
        # [U] the exact REST/Tooling error for a >5 MB static resource was not found.
        raise ApiError(
            400,
            "STRING_TOO_LONG",
            f"Body: data value too large: (max length={MAX_BODY_BYTES})",
            ["Body"],
        )


def decode_fields(payload: Any) -> dict[str, Any]:
    """Given a parsed JSON body, return its StaticResource fields; raise ApiError if any is bad."""
    if not isinstance(payload, dict):
        raise ApiError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of StaticResource from array"
        )
    fields: dict[str, Any] = {}
    for raw_name, value in payload.items():
        if raw_name == "attributes":
            continue
        name = canonical_field(raw_name)
        if name is None:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{raw_name}' on sobject of type StaticResource",
            )
        if name not in WRITABLE:
            raise ApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {name}. Please check the security settings of"
                " this field and verify that it is read/write for your profile or permission set.",
                [name],
            )
        fields[name] = _decode_value(name, value)
    return fields


def _decode_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(
            400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of string from {name} value"
        )
    if name == "Body":
        try:
            # pybase64 (SIMD) decodes a push's megabytes in a fraction of base64's time; it
            # refuses what `validate=True` refuses, and padding after a whole quantum too.
            return pybase64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            # [U] Salesforce's text for bad base64 was not found.
            raise ApiError(400, "JSON_PARSER_ERROR", "Body: invalid base64 value") from None
    limits = {"ContentType": 120, "Description": 255}
    if name in limits and len(value) > limits[name]:
        raise ApiError(
            400,
            "STRING_TOO_LONG",
            f"{name}: data value too large: {value[:40]} (max length={limits[name]})",
            [name],
        )
    if name == "CacheControl" and value not in CACHE_CONTROLS:
        # [U] lowercase "public" is refused: the field is a restricted picklist.
        raise ApiError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"Cache Control: bad value for restricted picklist field: {value}",
            ["CacheControl"],
        )
    return value


class ResourceStore:
    """The StaticResources of one org, by id; callers hold the emulator lock."""

    def __init__(self) -> None:
        self._by_id: dict[str, StaticResource] = {}
        self.namespace: str | None = None  # stamped on records created here

    def by_name(self) -> dict[str, StaticResource]:
        """Return a snapshot: name -> record (the org's own record wins over a managed one)."""
        ordered = sorted(self._by_id.values(), key=lambda r: r.namespace_prefix == self.namespace)
        return {record.name: record for record in ordered}

    def all(self) -> list[StaticResource]:
        """Return every record, oldest first."""
        return sorted(self._by_id.values(), key=lambda record: record.created_date)

    def get(self, record_id: str) -> StaticResource:
        """Return the record with this 15- or 18-character id; raise NOT_FOUND otherwise."""
        for record in self._by_id.values():
            if record_id in (record.id, record.id[:15]):
                return record
        raise not_found()

    def find(self, name: str) -> StaticResource | None:
        """Return the org's own record with this name (names ignore case), or None.

        A managed package's resource of the same name (another NamespacePrefix) is not it.
        """
        return self.find_in(name, self.namespace)

    def find_in(self, name: str, namespace: str | None) -> StaticResource | None:
        """Return the record with this name in this namespace (None: unmanaged), or None."""
        for record in self._by_id.values():
            if (
                record.name.lower() == name.lower()
                and (record.namespace_prefix or "").lower() == (namespace or "").lower()
            ):
                return record
        return None

    def seed(self, record: StaticResource) -> None:
        """Hold a record as given (a test's managed-package resource); no name checks."""
        self._by_id[record.id] = record

    def create(self, fields: dict[str, Any], now: float, user_id: str) -> StaticResource:
        """Insert a record from decoded fields; raise ApiError as Salesforce would."""
        missing = [
            name
            for name in ("Name", "ContentType", "Body", "CacheControl")
            if fields.get(name) is None
        ]
        if missing:
            raise ApiError(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        check_name(fields["Name"])
        self._check_unique(fields["Name"], None)
        check_body_size(fields["Body"])
        record = StaticResource(
            id=ids.new_id("081"),
            name=fields["Name"],
            body=fields["Body"],
            content_type=fields["ContentType"],
            cache_control=fields["CacheControl"],
            description=fields.get("Description"),
            created_date=now,
            system_modstamp=now,
            user_id=user_id,
            history=[],
            namespace_prefix=self.namespace,
        )
        record.history.append(record.sha256)
        self._by_id[record.id] = record
        return record

    def update(self, record_id: str, fields: dict[str, Any], now: float) -> StaticResource:
        """Apply decoded fields to an existing record; raise ApiError as Salesforce would."""
        record = self.get(record_id)
        for required in ("Name", "ContentType", "Body", "CacheControl"):
            if required in fields and fields[required] is None:
                raise ApiError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{required}]",
                    [required],
                )
        if "Name" in fields:
            check_name(fields["Name"])
            self._check_unique(fields["Name"], record.id)
            record.name = fields["Name"]
        if "Body" in fields:
            check_body_size(fields["Body"])
            record.body = fields["Body"]
            record.history.append(record.sha256)
        record.content_type = fields.get("ContentType", record.content_type)
        record.cache_control = fields.get("CacheControl", record.cache_control)
        if "Description" in fields:
            record.description = fields["Description"]
        record.system_modstamp = max(now, record.system_modstamp + 0.001)
        return record

    def replace_with_copies(self, source: ResourceStore, now: float, user_id: str) -> None:
        """Drop every record and hold copies of `source`'s, as a sandbox refresh leaves them.

        [U] The copies get new record Ids and `now` as their dates; whether a refresh keeps
        production's Ids and timestamps was not found.
        """
        self._by_id = {}
        for original in source.all():
            copy = StaticResource(
                id=ids.new_id("081"),
                name=original.name,
                body=original.body,
                content_type=original.content_type,
                cache_control=original.cache_control,
                description=original.description,
                created_date=now,
                system_modstamp=now,
                user_id=user_id,
                history=[original.sha256],
                # The source's own resources become this org's own; a managed package's stay its.
                namespace_prefix=(
                    self.namespace
                    if original.namespace_prefix == source.namespace
                    else original.namespace_prefix
                ),
            )
            self._by_id[copy.id] = copy

    def delete(self, record_id: str) -> None:
        """Remove a record; raise NOT_FOUND if there is none."""
        del self._by_id[self.get(record_id).id]

    def _check_unique(self, name: str, own_id: str | None) -> None:
        clash = self.find(name)
        if clash is not None and clash.id != own_id:
            # [U] DUPLICATE_VALUE vs DUPLICATE_DEVELOPER_NAME was not confirmed.
            raise ApiError(
                400,
                "DUPLICATE_VALUE",
                f"duplicate value found: Name duplicates value on record with id: {clash.id}",
                ["Name"],
            )
