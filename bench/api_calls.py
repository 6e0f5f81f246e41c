"""Row 1: API calls per sync. `sfsync sync` (one cycle, the real CLI) against two orgs, one
pushed through the Tooling API and one through a Metadata deploy, then the naive baseline
against a third org; every call each org answered is counted by the emulator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bench.baseline import run_naive
from bench.common import Measurement, Mode
from bench.packages import package_bytes, publish
from bench.workspace import make_workspace, start_emulator
from sfsync_emulator import OrgHandle

LATENCY = 0.05
PACKAGE_BYTES = 200_000
DEPLOY_SECONDS = 2.0  # a small deploy's run time in a real org is seconds, not instant
API_KINDS = ("rest", "tooling", "metadata", "soap")


def api_calls(org: OrgHandle) -> int:
    """Return every API call (REST, Tooling, Metadata, SOAP) the org has answered."""
    return sum(org.count(api=kind) for kind in API_KINDS)


def calls_during(orgs: Mapping[str, OrgHandle], action: Callable[[], object]) -> dict[str, int]:
    """Run `action` and return the API calls each org answered meanwhile."""
    before = {name: api_calls(org) for name, org in orgs.items()}
    action()
    return {name: api_calls(org) - before[name] for name, org in orgs.items()}


def measure(mode: Mode, keyring_env: Mapping[str, str]) -> list[Measurement]:
    """Run the cycles and return row 1's measurements."""
    emu = start_emulator(LATENCY)
    try:
        workspace = make_workspace(
            mode.scratch / "api-calls",
            emu,
            2,
            system="calls",
            keyring_env=keyring_env,
            apis=("tooling", "metadata"),
            deploy_seconds=mode.pick(DEPLOY_SECONDS, 0.3),
        )
        workspace.authorize_all()
        tooling, metadata = workspace.connectors
        orgs = workspace.orgs

        def sync() -> None:
            done = workspace.sync()
            if done.returncode != 0:
                raise RuntimeError(f"sfsync sync exited {done.returncode}: {done.stderr[-2000:]}")

        publish(workspace.drop, package_bytes(PACKAGE_BYTES, 1), 1)
        first = calls_during(orgs, sync)
        unchanged = calls_during(orgs, sync)
        publish(workspace.drop, package_bytes(PACKAGE_BYTES, 2), 2)
        oauth_before = orgs[tooling].count(api="oauth")
        posts_before = orgs[metadata].count(api="metadata", method="POST")
        polls_before = orgs[metadata].count(api="metadata", method="GET")
        changed = calls_during(orgs, sync)
        oauth = orgs[tooling].count(api="oauth") - oauth_before
        deploys = orgs[metadata].count(api="metadata", method="POST") - posts_before
        polls = orgs[metadata].count(api="metadata", method="GET") - polls_before

        baseline_org = emu.add_org(name="calls-baseline")
        package = max(workspace.drop.glob("*.zip"))
        naive_first = calls_during(
            {"baseline": baseline_org},
            lambda: run_naive(emu, [baseline_org], package, mode.scratch / "naive", timeout=120),
        )["baseline"]
        naive_again = calls_during(
            {"baseline": baseline_org},
            lambda: run_naive(emu, [baseline_org], package, mode.scratch / "naive", timeout=120),
        )["baseline"]
    finally:
        emu.stop()
    return [
        Measurement(
            "1",
            "API calls, unchanged content",
            unchanged[tooling] + unchanged[metadata],
            "calls",
            "0",
            unchanged[tooling] + unchanged[metadata] == 0,
            note="both connectors, a cycle after the push",
        ),
        Measurement(
            "1",
            "API calls, changed content, Tooling",
            changed[tooling],
            "calls",
            "1",
            changed[tooling] == 1,
            note=f"plus {oauth} OAuth refresh (a new CLI process); first push: {first[tooling]}",
        ),
        Measurement(
            "1",
            "API calls, changed content, Metadata",
            changed[metadata],
            "calls",
            "deploy + its polls",
            deploys == 1 and changed[metadata] == deploys + polls,
            note=f"{deploys} deploy + {polls} polls (the deploy runs "
            f"{mode.pick(DEPLOY_SECONDS, 0.3):g} s); "
            f"first push: {first[metadata]}",
        ),
        Measurement(
            "1",
            "API calls, naive baseline (every cycle)",
            naive_again,
            "calls",
            "reference: 2",
            None,
            note=f"query + update every cycle, changed or not; first cycle: {naive_first}",
        ),
    ]
