"""The baseline: what an operator writes instead of sfsync, a simple-salesforce script run by
cron. For each org, in turn: query the Static Resource by Name, then PATCH its Body with the
published ZIP as it is (or create it) -- every run, changed or not.

Run by the benchmark as its own process, as cron would: `python naive_sync.py SPEC.json`, where
SPEC.json holds {"ca": PEM, "package": ZIP, "resource": NAME, "api_version": "64.0",
"orgs": [{"instance_url": URL, "access_token": TOKEN}, ...]}. The access tokens are issued
beforehand, which spares the script the OAuth refresh a real cron job would also pay. Prints
one JSON line: {"started": wall-clock time the loop began, "seconds": how long it took}.
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
from simple_salesforce.api import Salesforce


def sync_org(org: dict[str, str], spec: dict[str, Any], body: str) -> None:
    """Query the resource by name in one org, then update it (or create it)."""
    http = requests.Session()
    http.verify = spec["ca"]
    client = Salesforce(
        instance_url=org["instance_url"],
        session_id=org["access_token"],
        session=http,
        version=spec["api_version"],
    )
    soql = f"SELECT Id FROM StaticResource WHERE Name = '{spec['resource']}'"  # noqa: S608 - a fixed name
    found = client.toolingexecute(f"query/?q={quote(soql)}")["records"]
    fields = {"ContentType": "application/zip", "CacheControl": "Public", "Body": body}
    if found:
        client.toolingexecute(
            f"sobjects/StaticResource/{found[0]['Id']}", method="PATCH", data=fields
        )
    else:
        fields["Name"] = spec["resource"]
        client.toolingexecute("sobjects/StaticResource", method="POST", data=fields)
    http.close()


def main(spec_path: str) -> None:
    """Read the spec, push the package to every org in turn, print when and how long."""
    spec = json.loads(Path(spec_path).read_text())
    started = time.time()
    clock = time.monotonic()
    body = base64.b64encode(Path(spec["package"]).read_bytes()).decode("ascii")
    for org in spec["orgs"]:
        sync_org(org, spec, body)
    print(json.dumps({"started": started, "seconds": time.monotonic() - clock}))


if __name__ == "__main__":
    main(sys.argv[1])
