"""`.ci/audit.py`'s verdict on pip-audit's report: it says how many dependencies it audited,
and an audit of none fails (it once reported "89 of 89 skipped" and passed).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

AUDIT = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"
SKIP = "Dependency not found on PyPI and could not be audited: requests (2.34.2)"


def audit() -> ModuleType:
    """Import .ci/audit.py (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("ci_audit", AUDIT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def report(audited: int, skipped: int, vulns: int = 0) -> dict[str, Any]:
    """A pip-audit JSON report with that many audited, skipped and vulnerable dependencies."""
    dependencies: list[dict[str, Any]] = [
        {"name": f"ok{n}", "version": "1", "vulns": []} for n in range(audited - vulns)
    ]
    dependencies += [
        {"name": f"bad{n}", "version": "1", "vulns": [{"id": f"GHSA-{n}"}]} for n in range(vulns)
    ]
    dependencies += [{"name": f"skip{n}", "skip_reason": SKIP} for n in range(skipped)]
    return {"dependencies": dependencies}


def test_every_dependency_skipped_fails_and_says_none_was_audited() -> None:
    """89 of 89 skipped is exit 1, with the count and the reason on the first line."""
    lines, status = audit().verdict(report(0, 89), {})
    assert status == 1
    assert lines[0].startswith("audit: pip-audit: audited 0 of 89 dependencies")
    assert "89 NOT audited" in lines[0]
    assert "FAILED: no dependency was audited" in lines[-1]


def test_no_vulnerability_service_fails_too() -> None:
    """No report at all (the service unreachable) is no audit either: exit 1."""
    lines, status = audit().unreached("Name or service not known", {})
    assert status == 1
    assert "FAILED" in lines[-1]


def test_an_accepted_unaudited_run_passes_but_says_so() -> None:
    """ALLOW_UNAUDITED=1 lets it pass, saying plainly that nothing was audited."""
    lines, status = audit().verdict(report(0, 89), {"ALLOW_UNAUDITED": "1"})
    assert status == 0
    assert "NO dependency was audited" in lines[-1]


def test_a_real_audit_reports_its_count_and_fails_on_a_vulnerability() -> None:
    """Some audited and none vulnerable passes; one vulnerable fails and is named."""
    lines, status = audit().verdict(report(80, 9), {})
    assert (status, lines[0].split(";")[0]) == (
        0,
        "audit: pip-audit: audited 80 of 89 dependencies",
    )
    lines, status = audit().verdict(report(80, 9, vulns=1), {})
    assert status == 1
    assert "bad0 1: GHSA-0" in lines[1]
