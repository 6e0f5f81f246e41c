"""The Metadata API deploy ZIP for one Static Resource (pure: bytes in, bytes out).

Layout (FACTS.md section 3a, singlePackage): `package.xml`, `staticresources/NAME.resource`
(the resource's own ZIP bytes) and `staticresources/NAME.resource-meta.xml`.
"""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape  # escape() writes XML; nothing is parsed  # nosec B406

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_NAMESPACE = "http://soap.sforce.com/2006/04/metadata"


def package_xml(resource: str, api_version: str) -> bytes:
    """Given a resource name and API version, return the deploy's package.xml."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Package xmlns="{_NAMESPACE}">\n'
        f"    <types>\n        <members>{escape(resource)}</members>\n"
        "        <name>StaticResource</name>\n    </types>\n"
        f"    <version>{escape(api_version)}</version>\n"
        "</Package>\n"
    ).encode()


def resource_meta_xml(cache_control: str, description: str) -> bytes:
    """Given the cache control ("Public"/"Private") and a description, return the meta file."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<StaticResource xmlns="{_NAMESPACE}">\n'
        f"    <cacheControl>{escape(cache_control)}</cacheControl>\n"
        "    <contentType>application/zip</contentType>\n"
        f"    <description>{escape(description[:255])}</description>\n"
        "</StaticResource>\n"
    ).encode()


def deploy_zip(
    resource: str, data: bytes, *, cache_control: str, description: str, api_version: str
) -> bytes:
    """Given a Static Resource's name, its ZIP and settings, return the deploy ZIP holding it."""
    members = {
        "package.xml": package_xml(resource, api_version),
        f"staticresources/{resource}.resource": data,
        f"staticresources/{resource}.resource-meta.xml": resource_meta_xml(
            cache_control, description
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, members[name])
    return buffer.getvalue()
