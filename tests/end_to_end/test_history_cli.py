"""`sfsync history` end to end: the real CLI after real syncs to an emulated org lists the kept
builds with the files they came from, and `rollback --to` with an unknown prefix lists them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfsync_emulator import Emulator
from tests.fixtures.sync_support import sync_site

pytestmark = pytest.mark.slow


def test_history_lists_kept_builds_and_rollback_points_to_them(
    tmp_path: Path, emu: Emulator, secret_service_here: dict[str, str]
) -> None:
    """Two publishes synced: `history --json` lists both builds, newest (live) first, each with
    its source file and result; `rollback --to` a prefix none has exits 2 with one error line
    and the list; the listed prefix rolls back.
    """
    site = sync_site(tmp_path, emu, {"sandbox": emu.add_org(name="sandbox")}, {},
                     secret_service_here)  # fmt: skip
    site.authorize("sandbox")
    for version in (1, 2):
        site.publish(version)
        assert site.run("sync")[0] == 0
    code, out, err = site.run("history", "--connector", "lightning/sandbox", "--json")
    assert code == 0, out + err
    builds = json.loads(out)["builds"]
    assert [Path(build["source_file"]).name for build in builds] == [
        "walkme-2.zip",
        "walkme-1.zip",
    ]
    assert [build["live"] for build in builds] == [True, False]
    assert [build["result"] for build in builds] == ["pushed", "pushed"]
    assert builds[0]["sha256"] == site.live_sha256("sandbox")

    code, out, err = site.run("rollback", "--connector", "lightning/sandbox", "--to", "0000zz")
    assert code == 2, out + err
    lines = err.splitlines()
    assert lines[0].startswith("sfsync: error: connector lightning/sandbox: no kept build")
    assert [line[:12] for line in lines[2:]] == [build["sha256"][:12] for build in builds]
    assert "walkme-1.zip" in lines[3]

    code, out, err = site.run("rollback", "--connector", "lightning/sandbox", "--to",
                              builds[1]["sha256"][:12])  # fmt: skip
    assert code == 0, out + err
    assert site.live_sha256("sandbox") == builds[1]["sha256"]
