"""The state_dir lock of `sfsync run`: one holder at a time, its pid in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfsync.daemon.holder import StateDirectoryHold
from sfsync.errors import ExitStatus, StateDirectoryHeldError


def test_second_hold_is_refused_naming_the_holder_pid(tmp_path: Path) -> None:
    """While one hold is taken, another is refused (exit 2) naming the first's pid; once
    released, the state_dir can be taken again.
    """
    first = StateDirectoryHold.take(tmp_path / "state", pid=4242)
    assert (tmp_path / "state" / "daemon.lock").read_text() == "4242\n"
    with pytest.raises(StateDirectoryHeldError, match="pid 4242") as refused:
        StateDirectoryHold.take(tmp_path / "state", pid=4343)
    assert refused.value.exit_status == ExitStatus.USAGE
    first.release()
    StateDirectoryHold.take(tmp_path / "state", pid=4343).release()
    assert (tmp_path / "state" / "daemon.lock").read_text() == "4343\n"
