"""`sfsync status` end to end: the real CLI after real syncs to emulated orgs, as JSON and as the
plain table it prints when stdout is not a terminal; and what `sync --force` costs.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sfsync_emulator import Emulator
from tests.fixtures.sync_support import RESOURCE, SyncSite, sync_site

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FACT_LABELS = ("account", "org", "gate", "paused", "in doubt", "last error", "note")


def sandbox_and_production(
    tmp_path: Path, emu: Emulator, gate: str, secret_service_here: dict[str, str]
) -> SyncSite:
    """Return a site with sandbox and production (gated by `gate`), both authorized."""
    orgs = {"sandbox": emu.add_org(name="sandbox"), "production": emu.add_org(name="production")}
    site = sync_site(tmp_path, emu, orgs, {"production": gate}, secret_service_here)
    site.authorize("sandbox")
    site.authorize("production")
    return site


def status_json(site: SyncSite) -> dict[str, dict[str, Any]]:
    """Run `sfsync status --json`; return its rows by connector."""
    code, out, err = site.run("status", "--json")
    assert code == 0, out + err
    return {row["connector"]: row for row in json.loads(out)["connectors"]}


def status_plain(
    site: SyncSite, columns: int | None = None
) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, str]]]:
    """Run `sfsync status` (stdout is a pipe: plain text; $COLUMNS when given); return each
    connector's table cells by header and the fact lines below the table as (connector, label,
    text), a wrapped fact's continuation lines joined to it.
    """
    if columns is None:
        code, out, err = site.run("status")
    else:
        done = site.site.run("status", env={"COLUMNS": str(columns)})
        code, out, err = done.returncode, done.stdout, done.stderr
    assert code == 0, out + err
    assert "\x1b" not in out, "no terminal: no colours or cursor codes"
    assert max(len(line) for line in out.splitlines()) <= (columns or 120)
    table, _, facts = out.partition("\n\n")
    lines = table.splitlines()
    headers = re.findall(r"\S+(?: \S+)?", lines[0])  # "LAST PUSH" is one header
    assert headers[0] == "CONNECTOR"
    assert {"LIVE", "LAST PUSH", "PAUSED"} <= set(headers)
    starts = [lines[0].index(header) for header in headers]
    ends = [*starts[1:], None]
    by_connector = {}
    for line in lines[1:]:
        cells = [line[start:end].strip() for start, end in zip(starts, ends, strict=True)]
        by_connector[cells[0]] = dict(zip(headers, cells, strict=True))
    parsed: list[tuple[str, str, str]] = []
    for line in facts.splitlines():
        if line.startswith(" "):
            connector, label, text = parsed.pop()
            parsed.append((connector, label, f"{text} {line.strip()}"))
            continue
        connector, rest = line.split(maxsplit=1)
        label = next(label for label in FACT_LABELS if rest.startswith(label + " "))
        parsed.append((connector, label, rest.removeprefix(label).strip()))
    return by_connector, parsed


def test_gated_production_shows_its_gate(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """While new content soaks on sandbox, production's status names it and the soak's end,
    in --json and in the plain table; sandbox has no gate.
    """
    site = sandbox_and_production(
        tmp_path, emu, 'requires = "sandbox"\nsoak = "1h"', secret_service_here=secret_service_here
    )
    site.publish(1)
    code, out, _ = site.run("sync")
    assert code == 0
    assert "gated" in out
    rows = status_json(site)
    sandbox, production = rows["lightning/sandbox"], rows["lightning/production"]
    live = site.live_sha256("sandbox")
    assert live is not None
    assert sandbox["live_sha256"] == live
    since = datetime.fromisoformat(sandbox["live_since"])
    expected = (
        f"waiting for lightning/sandbox: {live[:12]} live since "
        f"{since.isoformat(timespec='seconds')}, soak until "
        f"{(since + timedelta(hours=1)).isoformat(timespec='seconds')}"
    )
    assert production["gated"] == expected
    assert production["live_sha256"] is None
    assert production["last_result"] is None
    assert sandbox["gated"] is None

    table, facts = status_plain(site)
    assert table["lightning/sandbox"]["LIVE"] == live[:12]
    assert table["lightning/production"]["LIVE"] == "-", "nothing live on production"
    assert ("lightning/production", "gate", expected) in facts
    assert not [fact for fact in facts if fact[0] == "lightning/sandbox"]


def test_rollback_shows_paused(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """After `sfsync rollback`, status shows the connector paused, why, and the build it rolled
    back to; the other connector is not paused.
    """
    site = sandbox_and_production(
        tmp_path, emu, 'requires = "sandbox"', secret_service_here=secret_service_here
    )
    site.publish(1)
    assert site.run("sync")[0] == 0
    first = site.live_sha256("sandbox")
    assert first is not None
    site.publish(2)
    assert site.run("sync")[0] == 0
    assert site.run("rollback", "--connector", "lightning/sandbox")[0] == 0
    rows = status_json(site)
    sandbox, production = rows["lightning/sandbox"], rows["lightning/production"]
    assert sandbox["paused"] is True
    assert sandbox["paused_reason"] == f"rolled back to {first[:12]}"
    assert sandbox["live_sha256"] == first
    assert sandbox["last_result"] == "pushed"
    assert production["paused"] is False

    table, facts = status_plain(site)
    assert table["lightning/sandbox"]["PAUSED"] == "yes"
    assert table["lightning/production"]["PAUSED"] == "no"
    assert ("lightning/sandbox", "paused", f"rolled back to {first[:12]}") in facts


def test_failed_push_shows_last_error(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """A push Salesforce refuses leaves its error in status, whole in --json and on one line in
    the plain table, with the failed outcome as the last push.
    """
    site = sandbox_and_production(
        tmp_path, emu, 'requires = "sandbox"', secret_service_here=secret_service_here
    )
    sandbox_org = site.orgs["sandbox"]
    sandbox_org.faults.fail_next(1, status=400, api="tooling", path_prefix="/services/data")
    site.publish(1)
    code, _, _ = site.run("sync", "--connector", "lightning/sandbox")
    assert code == 1
    rows = status_json(site)
    sandbox = rows["lightning/sandbox"]
    assert sandbox["last_result"] == "failed"
    assert sandbox["last_error"] is not None
    assert "HTTP 400" in sandbox["last_error"]
    assert sandbox["live_sha256"] is None
    assert rows["lightning/production"]["last_error"] is None

    table, facts = status_plain(site)
    assert table["lightning/sandbox"]["LAST PUSH"].endswith(" failed")
    assert table["lightning/sandbox"]["PAUSED"] == "no"
    errors = [text for connector, label, text in facts if label == "last error"]
    assert len(errors) == 1
    assert "HTTP 400" in errors[0]
    assert [connector for connector, label, _ in facts if label == "last error"] == [
        "lightning/sandbox"
    ]


def test_force_on_an_unchanged_package_costs_one_write_per_connector(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """`sync --force` pushes the live build again: exactly one PATCH per org and no other API
    call, once the resource Id is known.
    """
    site = sandbox_and_production(
        tmp_path, emu, 'requires = "sandbox"', secret_service_here=secret_service_here
    )
    site.publish(1)
    assert site.run("sync")[0] == 0
    live = {name: site.live_sha256(name) for name in site.orgs}
    calls = {name: site.api_calls(name) for name in site.orgs}
    code, out, err = site.run("sync", "--force")
    assert code == 0, out + err
    assert out.count(" pushed ") == 2, out
    for name, org in site.orgs.items():
        assert site.api_calls(name) - calls[name] == 1, name
        assert org.count(method="PATCH") == 1, name
        assert len(org.static_resources[RESOURCE].history) == 2
        assert site.live_sha256(name) == live[name]


@pytest.mark.parametrize("columns", [80, 120])
def test_plain_status_fits_columns(
    columns: int, tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """Piped with $COLUMNS at 80 or 120, no status line is wider, `lightning/production` and
    its result are whole in the table, and its user and org are shown (in the table or below).
    """
    orgs = {"production": emu.add_org(name="production"), "uat": emu.add_org(name="uat")}
    site = sync_site(tmp_path, emu, orgs, {}, secret_service_here)
    site.authorize("production")
    site.authorize("uat")
    site.publish(1)
    assert site.run("sync")[0] == 0
    table, facts = status_plain(site, columns)
    for environment, org in orgs.items():
        cells = table[f"lightning/{environment}"]
        assert cells["LAST PUSH"].endswith(" pushed")
        shown = " ".join(
            [*cells.values(), *(text for name, _, text in facts if name.endswith(environment))]
        )
        assert org.default_user.username in shown
        assert org.org_id in shown


def test_json_from_the_first_run_and_on_a_keyring_error(tmp_path: Path, emu: Emulator) -> None:
    """`status --json` before anything was synced has every key in every row (paused false)
    and a schema_version; with the cryptfile keyring's passphrase missing it still prints its
    JSON, the error in it, and exits 3.
    """
    orgs = {"sandbox": emu.add_org(name="sandbox")}
    site = sync_site(tmp_path, emu, orgs, {})  # the cryptfile keyring
    site.authorize("sandbox")
    published = json.loads((ROOT / "docs" / "status.schema.json").read_text())
    keys = set(published["$defs"]["row"]["properties"])
    code, out, err = site.run("status", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["schema_version"] == 1
    assert report["error"] is None
    [row] = report["connectors"]
    assert set(row) == keys
    assert row["paused"] is False
    assert row["authorized"] is True
    done = site.site.run("status", "--json", env={"SFSYNC_KEYRING_PASSPHRASE": ""})
    assert done.returncode == 3, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert "passphrase" in report["error"]
    [row] = report["connectors"]
    assert set(row) == keys
    assert row["authorized"] is None
