"""A local HTTPS stand-in for the parts of Salesforce that sfsync uses (SPEC section 11).

    with Emulator() as emu:
        emu.register_client("sfsync-demo", ["http://localhost:1717/OAuthCallback"])
        org = emu.add_org(name="sandbox", api_budget=15000)
        # emu.login_url, org.instance_url, emu.ca_path (pass as verify=)
        # org.static_resources, org.request_log, org.count(...), org.faults, emu.faults

Each org listens on its own loopback port; one acceptor thread serves them all.
"""

from sfsync_emulator.emulator import Emulator, OrgHandle
from sfsync_emulator.faults import Faults
from sfsync_emulator.models import RequestLogEntry, StaticResource

__all__ = ["Emulator", "Faults", "OrgHandle", "RequestLogEntry", "StaticResource"]
