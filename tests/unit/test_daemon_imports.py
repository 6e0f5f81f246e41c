"""What `sfsync run` loads: no terminal libraries (rich, pygments), which only the CLI's tables
and progress use, and which structlog would otherwise load for a renderer sfsync never reaches.
"""

from __future__ import annotations

from tests.unit.salesforce.test_soap_deferred import run_fresh


def test_the_daemon_loads_no_terminal_library_and_the_cli_still_can() -> None:
    """Importing the CLI and the daemon loads neither rich nor pygments; the CLI's printers
    load rich when a command needs them.
    """
    out = run_fresh(
        """
        import sys
        import sfsync.cli, sfsync.daemon.main, sfsync.daemon.service, structlog
        print(sorted(m for m in ("rich", "pygments", "structlog") if m in sys.modules))
        from sfsync.terminal import print_results
        print("rich" in sys.modules)
        """
    )
    assert out.splitlines() == ["['structlog']", "True"]


def test_console_logs_still_render_an_exception() -> None:
    """With rich hidden from structlog, a console log line of a failure still carries its
    traceback as text.
    """
    out = run_fresh(
        """
        import io, structlog
        from sfsync.log import configure_logging
        stream = io.StringIO()
        configure_logging("console", stream)
        try:
            raise ValueError("boom")
        except ValueError:
            structlog.get_logger("sfsync.test").exception("push crashed", connector="a/b")
        print(stream.getvalue())
        """
    )
    assert "push crashed" in out
    assert "Traceback (most recent call last)" in out
    assert "ValueError: boom" in out
