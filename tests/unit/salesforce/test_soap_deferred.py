"""simple-salesforce's SOAP Metadata client (zeep, lxml) is imported only when it is used."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

DAEMON = Path(__file__).resolve().parents[3] / "daemon"


def run_fresh(code: str) -> str:
    """Given Python code, run it in a new interpreter that finds sfsync; return its output."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(DAEMON), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_daemon_imports_no_soap_client() -> None:
    """Importing the CLI (and through it the daemon and simple-salesforce) loads neither zeep
    nor lxml.
    """
    out = run_fresh(
        """
        import sys
        import sfsync.cli, sfsync.daemon.service, sfsync.salesforce.tooling
        import simple_salesforce
        print(sorted(m for m in ("zeep", "lxml", "simple_salesforce.api") if m in sys.modules))
        """
    )
    assert out == "['simple_salesforce.api']"


def test_the_soap_client_is_built_when_asked_for() -> None:
    """`Salesforce.mdapi` still builds simple-salesforce's real client, importing zeep then,
    and the module is the real one from then on.
    """
    out = run_fresh(
        """
        import sys
        import sfsync.salesforce
        from simple_salesforce import Salesforce
        sf = Salesforce(instance_url="https://example.invalid", session_id="x", version="64.0")
        before = "zeep" in sys.modules
        api = sf.mdapi
        module = sys.modules["simple_salesforce.metadata"]
        print(before, "zeep" in sys.modules, type(api) is module.SfdcMetadataApi)
        import simple_salesforce.metadata
        print(simple_salesforce.metadata is module, sf.mdapi is api)
        """
    )
    assert out.splitlines() == ["False True True", "True True"]


def test_a_process_that_imported_simple_salesforce_first_is_left_alone() -> None:
    """Where simple-salesforce was imported before sfsync, its modules are not touched."""
    out = run_fresh(
        """
        import sys
        import simple_salesforce
        import sfsync.salesforce
        print(type(sys.modules["simple_salesforce.metadata"]).__name__, "zeep" in sys.modules)
        """
    )
    assert out == "module True"
