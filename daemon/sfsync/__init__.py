"""sfsync: keeps self-hosted in-app guidance packages live in Salesforce orgs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sfsync")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
