"""A local HTTPS stand-in for the parts of Salesforce that sfsync uses (SPEC section 11)."""

from sfsync_emulator.emulator import Emulator, OrgHandle
from sfsync_emulator.faults import Faults
from sfsync_emulator.models import RequestLogEntry, StaticResource

__all__ = ["Emulator", "Faults", "OrgHandle", "RequestLogEntry", "StaticResource"]
