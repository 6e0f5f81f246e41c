"""The floor under publish-to-live latency: sfsync's own ZIP build plus one HTTPS write, with
nothing else (no watcher, no scheduler, no state store, no keyring), in a process of its own
as the daemon is.

`python floor_push.py SPEC.json` with {"instance_url", "access_token", "ca", "api_version",
"resource"}; then one package path per line on stdin. For each, it notes the wall-clock time,
reads and builds the package (compression cache warm from the earlier ones, as the daemon's
is), writes it with one PATCH over a kept-alive HTTPS connection (the first one creates the
resource), and prints the time it started, then the CPU seconds the whole push and its write
alone (base64, JSON, HTTPS) took in this process.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from sfsync.package.build import BuildOptions, build_package
from sfsync.package.cache import MemoryCompressionCache
from sfsync.package.limits import PackageLimits
from sfsync.package.read import read_package


def main(spec_path: str) -> None:
    """Serve build-and-write requests from stdin until it closes."""
    spec: dict[str, Any] = json.loads(Path(spec_path).read_text())
    http = requests.Session()
    http.verify = spec["ca"]
    http.headers["Authorization"] = f"Bearer {spec['access_token']}"
    tooling = f"{spec['instance_url']}/services/data/v{spec['api_version']}/tooling"
    cache = MemoryCompressionCache()
    options = BuildOptions(
        connector="floor/env", overrides={}, source_version="floor", sfsync_version="floor"
    )
    resource_id: str | None = None
    for line in sys.stdin:
        path = Path(line.strip())
        started = time.time()
        cpu_started = time.process_time()
        built = build_package(read_package(path, PackageLimits()), options, cache)
        write_started = time.process_time()
        fields = {
            "ContentType": "application/zip",
            "CacheControl": "Public",
            "Body": base64.b64encode(built.data).decode("ascii"),
        }
        if resource_id is None:
            resource_id = _find(http, tooling, spec["resource"])
        if resource_id is None:
            resource_id = _create(http, tooling, spec["resource"], fields)
        else:
            answer = http.patch(
                f"{tooling}/sobjects/StaticResource/{resource_id}",
                data=json.dumps(fields),
                headers={"Content-Type": "application/json"},
            )
            answer.raise_for_status()
        now = time.process_time()
        print(started, now - cpu_started, now - write_started, flush=True)


def _find(http: requests.Session, tooling: str, name: str) -> str | None:
    soql = f"SELECT Id FROM StaticResource WHERE Name = '{name}'"  # noqa: S608 - our own resource name
    records = http.get(f"{tooling}/query/?q={quote(soql)}").json()["records"]
    return str(records[0]["Id"]) if records else None


def _create(http: requests.Session, tooling: str, name: str, fields: dict[str, str]) -> str:
    answer = http.post(
        f"{tooling}/sobjects/StaticResource",
        data=json.dumps({**fields, "Name": name}),
        headers={"Content-Type": "application/json"},
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


if __name__ == "__main__":
    main(sys.argv[1])
