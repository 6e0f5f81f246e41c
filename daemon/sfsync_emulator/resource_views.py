"""`/resource/[<timestamp>/]<Name>[/<path>]`: files served out of stored (ZIP) StaticResources.

There is no authentication here: this stands for a resource with CacheControl Public reached
through a public Site, which is how an anonymous page loads it.
"""

from __future__ import annotations

import io
import mimetypes
import zipfile

from werkzeug.wrappers import Request, Response

from sfsync_emulator.context import Context

ZIP_TYPES = ("application/zip", "application/x-zip-compressed")


def _not_found() -> Response:
    return Response(
        "<html><body>Page Not Found</body></html>", status=404, content_type="text/html"
    )


def serve(ctx: Context, _request: Request, rest: str) -> Response:
    """Serve the whole resource, or one file inside a ZIP resource."""
    parts = rest.split("/")
    if parts and parts[0].isdigit():
        parts = parts[1:]  # the timestamp only busts caches (FACTS 2d)
    if not parts or ctx.org is None:
        return _not_found()
    prefix, _, name = parts[0].rpartition("__")  # `ns__Name`: a namespace's resource
    inner = "/".join(parts[1:])
    with ctx.backend.lock:
        store = ctx.org.resources
        record = store.find_in(name, prefix) if prefix else store.find(name)
        if record is None:
            return _not_found()
        body, content_type, cache = record.body, record.content_type, record.cache_control
    headers = {"Cache-Control": "public, max-age=86400" if cache == "Public" else "private"}
    if not inner:
        return Response(body, content_type=content_type, headers=headers)
    if content_type not in ZIP_TYPES:
        return _not_found()
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            data = archive.read(inner)
    except (KeyError, zipfile.BadZipFile, OSError):
        return _not_found()
    guessed = mimetypes.guess_type(inner)[0] or "application/octet-stream"
    return Response(data, content_type=guessed, headers=headers)
