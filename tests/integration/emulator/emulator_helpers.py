"""Builders shared by the emulator tests: deploy ZIPs, package.xml, -meta.xml."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from simple_salesforce.exceptions import SalesforceError

CLIENT_ID = "sfsync-test"
REDIRECT_URI = "http://localhost:1717/OAuthCallback"
API = "/services/data/v64.0"


def build_zip(files: dict[str, bytes]) -> bytes:
    """Return a ZIP holding `files`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def resource_meta(cache_control: str = "Public", content_type: str = "application/zip") -> bytes:
    """Return a StaticResource -meta.xml."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<StaticResource xmlns="http://soap.sforce.com/2006/04/metadata">'
        f"<cacheControl>{cache_control}</cacheControl><contentType>{content_type}</contentType>"
        "</StaticResource>"
    ).encode()


def package_xml(*members: str) -> bytes:
    """Return a package.xml naming StaticResource members."""
    names = "".join(f"<members>{m}</members>" for m in members)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Package xmlns="http://soap.sforce.com/2006/04/metadata">'
        f"<types>{names}<name>StaticResource</name></types><version>64.0</version></Package>"
    ).encode()


def deploy_zip(
    resources: dict[str, bytes], prefix: str = "", members: tuple[str, ...] = ()
) -> bytes:
    """Return a deploy ZIP for StaticResources (under `prefix` for singlePackage=false)."""
    files = {f"{prefix}package.xml": package_xml(*(members or tuple(resources)))}
    for name, body in resources.items():
        files[f"{prefix}staticresources/{name}.resource"] = body
        files[f"{prefix}staticresources/{name}.resource-meta.xml"] = resource_meta()
    return build_zip(files)


def error_json(error: SalesforceError) -> Any:
    """Given a simple-salesforce error, return the JSON answer it carries (its `content`,
    which the library annotates as bytes but fills with the parsed answer).
    """
    return error.content
