"""simple-salesforce without its SOAP Metadata client until something calls it.

`simple_salesforce.api` imports `SfdcMetadataApi` when it is imported, and that module imports
zeep and lxml: 9 MB of resident memory once imported (the CLI's imports, 74 -> 65 MB; the
daemon's RSS at READY, 79.4 -> 73.6 MB) for a client sfsync never calls, since it deploys
through the REST deploy resource. `Salesforce.mdapi` only builds
the client when first asked for, so a stand-in module is enough: it imports the real one the
first time the class is called or any other name is asked of it.

`defer()` must run before simple-salesforce is first imported; `sfsync.salesforce` runs it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from typing import Any

NAME = "simple_salesforce.metadata"
_lock = threading.Lock()


def defer() -> None:
    """Stand a placeholder in for simple-salesforce's SOAP Metadata module, unless the
    package is already imported (then nothing is gained) or cannot be found.
    """
    if "simple_salesforce" in sys.modules or NAME in sys.modules:
        return
    package = importlib.util.find_spec("simple_salesforce")  # finds it without importing it
    if package is None or package.submodule_search_locations is None:
        return
    spec = importlib.machinery.PathFinder.find_spec(NAME, list(package.submodule_search_locations))
    if spec is None or spec.loader is None:
        return
    sys.modules[NAME] = _Placeholder(NAME, spec, spec.loader)


class _Placeholder(types.ModuleType):
    def __init__(
        self, name: str, spec: importlib.machinery.ModuleSpec, loader: importlib.abc.Loader
    ) -> None:
        super().__init__(name)
        self._real_spec = spec
        self._real_loader = loader
        placeholder = self

        class SfdcMetadataApi:
            """Builds the real client, importing its module first."""

            def __new__(cls, *args: Any, **kwargs: Any) -> Any:
                return placeholder.load().SfdcMetadataApi(*args, **kwargs)

        self.SfdcMetadataApi = SfdcMetadataApi

    def load(self) -> types.ModuleType:
        """Import the real module in this one's place; return it."""
        with _lock:
            current = sys.modules.get(NAME)
            if current is not None and current is not self:
                return current
            module = importlib.util.module_from_spec(self._real_spec)
            sys.modules[NAME] = module
            try:
                self._real_loader.exec_module(module)
            except BaseException:
                sys.modules[NAME] = self
                raise
            parent = sys.modules.get("simple_salesforce")
            if parent is not None:
                parent.metadata = module  # type: ignore[attr-defined]
            return module

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.load(), name)
