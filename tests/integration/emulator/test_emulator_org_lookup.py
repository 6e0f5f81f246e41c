"""The emulator finds its orgs by name and by 15- or 18-character id, also after a sandbox
refresh gives an org a new id (the lookups are indexed for benchmarks with 10,000 orgs).
"""

from __future__ import annotations

import pytest

from sfsync_emulator import Emulator, OrgHandle


def test_an_org_is_found_by_name_and_by_either_id(emu: Emulator, org: OrgHandle) -> None:
    """The backend finds an org by its name and by its 18- or 15-character id, and nothing
    for an id that differs past the 15th character or an unknown name.
    """
    backend = emu.backend
    assert backend.org_named(org.name) is not None
    assert backend.org_named(org.name).org_id == org.org_id  # type: ignore[union-attr]
    assert backend.org(org.org_id) is not None
    assert backend.org(org.org_id[:15]) is backend.org(org.org_id)
    assert backend.org(org.org_id[:15] + "ZZZ") is None
    assert backend.org_named("no-such-org") is None


def test_a_refreshed_sandbox_is_found_by_its_new_id_only(emu: Emulator, org: OrgHandle) -> None:
    """After a sandbox refresh the org answers to its new id, and its old id finds nothing."""
    old_id = org.org_id
    org.refresh_sandbox()
    assert org.org_id != old_id
    assert emu.backend.org(old_id) is None
    assert emu.backend.org(org.org_id) is not None
    assert emu.backend.org(org.org_id[:15]) is emu.backend.org(org.org_id)


def test_a_second_org_with_a_taken_name_is_refused(emu: Emulator, org: OrgHandle) -> None:
    """Adding an org under a name already in the emulator raises ValueError."""
    with pytest.raises(ValueError, match="already exists"):
        emu.add_org(name=org.name)
