"""Security checks for `make test`: bandit over daemon/ (findings fail; accepted ones carry an
inline `# nosec` with the reason), then pip-audit over the installed dependencies.

pip-audit needs a vulnerability service (PyPI's JSON API or OSV). Where neither is reachable,
or the index is a mirror without vulnerability data, it says which packages it could not
audit; this script prints that plainly and fails only on a known vulnerability.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


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
        print(f"audit: pip-audit could not reach a vulnerability service: {reason}")
        return 0
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    print(
        f"audit: pip-audit: {audited} of {len(dependencies)} dependencies audited, "
        f"{len(vulnerable)} with known vulnerabilities, {len(skipped)} not audited "
        "(the index has no vulnerability data for them)"
    )
    for dependency in vulnerable:
        ids = ", ".join(vuln["id"] for vuln in dependency["vulns"])
        print(f"audit:   {dependency['name']} {dependency['version']}: {ids}")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
