"""Security checks for `make test`: bandit over daemon/ (findings fail; accepted ones carry an
inline `# nosec` with the reason), then pip-audit over the installed dependencies.

pip-audit needs a vulnerability service (PyPI's JSON API or OSV). Where neither is reachable,
or the index is a mirror without vulnerability data, it says which packages it could not
audit; this script prints plainly how many it audited, and fails on a known vulnerability and
when it audited none at all (a pass would claim an audit that did not happen), unless
ALLOW_UNAUDITED=1 says that is accepted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
ALLOW_UNAUDITED = "ALLOW_UNAUDITED"


def main() -> int:
    """Run bandit, then pip-audit; return non-zero on a finding."""
    bandit = subprocess.run([str(BIN / "bandit"), "-q", "-r", "daemon/"], check=False)
    if bandit.returncode != 0:
        print("audit: bandit found issues (fix them, or explain each with `# nosec`)")
        return 1
    print("audit: bandit -r daemon/: no issues")
    done = subprocess.run(
        [str(BIN / "pip-audit"), "--skip-editable", "--progress-spinner", "off", "-f", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        lines, status = unreached(reason, os.environ)
    else:
        lines, status = verdict(report, os.environ)
    for line in lines:
        print(line)
    return status


def unreached(reason: str, environ: Mapping[str, str]) -> tuple[list[str], int]:
    """Given why pip-audit produced no report, return the lines to print and the exit status:
    nothing was audited, which fails unless the caller accepted that (ALLOW_UNAUDITED).
    """
    return _nothing_audited(
        [f"audit: pip-audit could not reach a vulnerability service: {reason}"], environ
    )


def verdict(report: dict[str, Any], environ: Mapping[str, str]) -> tuple[list[str], int]:
    """Given pip-audit's JSON report, return the lines to print and the exit status: 1 on a
    known vulnerability, and 1 when not a single dependency was actually audited (every one
    skipped: no vulnerability data reachable), unless ALLOW_UNAUDITED=1 says so is accepted.
    """
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    lines = [
        f"audit: pip-audit: audited {audited} of {len(dependencies)} dependencies; "
        f"{len(vulnerable)} with known vulnerabilities; {len(skipped)} NOT audited"
        + (f" ({skipped[0]['skip_reason']}, ...)" if skipped else "")
    ]
    lines += [
        f"audit:   {d['name']} {d['version']}: {', '.join(v['id'] for v in d['vulns'])}"
        for d in vulnerable
    ]
    if vulnerable:
        return lines, 1
    if audited == 0:
        return _nothing_audited(lines, environ)
    return lines, 0


def _nothing_audited(lines: list[str], environ: Mapping[str, str]) -> tuple[list[str], int]:
    if environ.get(ALLOW_UNAUDITED) == "1":
        return [*lines, f"audit: NO dependency was audited ({ALLOW_UNAUDITED}=1 accepts it)"], 0
    return [
        *lines,
        (
            "audit: FAILED: no dependency was audited, so this is no audit; make PyPI's JSON "
            f"API (or OSV) reachable, or set {ALLOW_UNAUDITED}=1 to accept running without one"
        ),
    ], 1


if __name__ == "__main__":
    sys.exit(main())
