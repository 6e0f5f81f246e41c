"""The SOQL subset sfsync needs: SELECT fields FROM StaticResource [WHERE ... AND ...] [LIMIT n]."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sfsync_emulator.errors import ApiError
from sfsync_emulator.resources import StaticResource, canonical_field

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>\w+)(?:\s+(?:ASC|DESC))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(r"^\s*(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|null)\s*$", re.IGNORECASE)
_FILTERABLE = ("Id", "Name", "NamespacePrefix")


@dataclass(frozen=True)
class Query:
    """A parsed query: the fields to return, equality filters, and a row limit."""

    fields: list[str]
    filters: dict[str, str | None]
    limit: int | None

    def matches(self, record: StaticResource) -> bool:
        """Return whether a record passes every filter (string comparison ignores case)."""
        for name, wanted in self.filters.items():
            if name == "NamespacePrefix":
                # null matches only records without a namespace (SOQL treats '' as null too).
                if (wanted or "").lower() != (record.namespace_prefix or "").lower():
                    return False
            elif name == "Id":
                if wanted not in (record.id, record.id[:15]):
                    return False
            elif (wanted or "").lower() != record.name.lower():
                return False
        return True


def _located(query: str, token: str, code: str, text: str) -> ApiError:
    column = query.find(token) + 1
    message = f"\n{query}\n{' ' * max(column - 1, 0)}^\nERROR at Row:1:Column:{column}\n{text}"
    return ApiError(400, code, message)


def parse(query: str) -> Query:
    """Parse a query; raise Salesforce's MALFORMED_QUERY, INVALID_TYPE or INVALID_FIELD."""
    match = _QUERY.match(query)
    if match is None:
        raise ApiError(400, "MALFORMED_QUERY", f"unexpected token: '{query.strip()[:40]}'")
    sobject = match["object"]
    if sobject.lower() != "staticresource":
        raise _located(
            query,
            sobject,
            "INVALID_TYPE",
            f"sObject type '{sobject}' is not supported. If you are attempting to use a custom"
            " object, be sure to append the '__c' after the entity name. Please reference your"
            " WSDL or the describe call for the appropriate names.",
        )
    fields = [_field(query, raw.strip()) for raw in match["fields"].split(",")]
    filters: dict[str, str | None] = {}
    if match["where"]:
        for part in re.split(r"\s+AND\s+", match["where"], flags=re.IGNORECASE):
            condition = _CONDITION.match(part)
            if condition is None:
                raise ApiError(400, "MALFORMED_QUERY", f"unexpected token: '{part.strip()}'")
            name = _field(query, condition[1])
            if name not in _FILTERABLE:
                raise ApiError(400, "MALFORMED_QUERY", f"unexpected token: '{part.strip()}'")
            value = condition[2]
            filters[name] = None if value.lower() == "null" else value[1:-1].replace("\\'", "'")
    return Query(fields, filters, int(match["limit"]) if match["limit"] else None)


def field_name(raw: str) -> str:
    """Return a field's canonical name; raise INVALID_FIELD for an unknown one."""
    return _field(raw, raw)


def _field(query: str, raw: str) -> str:
    name = canonical_field(raw)
    if name is None:
        raise _located(
            query,
            raw,
            "INVALID_FIELD",
            f"No such column '{raw}' on entity 'StaticResource'. If you are attempting to use a"
            " custom field, be sure to append the '__c' after the custom field name. Please"
            " reference your WSDL or the describe call for the appropriate names.",
        )
    return name
