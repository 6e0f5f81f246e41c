"""sfsync: keeps self-hosted in-app guidance packages live in Salesforce orgs."""

import sys
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sfsync")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"


def _import_structlog_without_rich() -> None:
    """Import structlog with rich hidden from it. structlog.dev loads rich and pygments when
    they are installed, for a traceback renderer sfsync never reaches (its log chain renders
    exceptions to text first, `log.configure_logging`): memory every daemon would hold for
    nothing. The CLI's tables import rich later, as usual.
    """
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` now fails
    try:
        import structlog  # noqa: F401, PLC0415
    finally:
        del sys.modules["rich"]


_import_structlog_without_rich()
