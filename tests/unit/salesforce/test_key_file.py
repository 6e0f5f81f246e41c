"""A JWT private key is read only if its group and others have no permission on it, as ssh
requires of its keys (issue 14 item 9a).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sfsync.errors import AuthorizationError
from sfsync.salesforce.key_file import read_private_key
from sfsync.salesforce.session import read_key_file

PEM = b"-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n"

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def key_with_mode(folder: Path, mode: int) -> Path:
    """Write a key file with the given mode and return its path."""
    path = folder / "jwt.pem"
    path.write_bytes(PEM)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o610, 0o601, 0o700 | 0o004])
def test_key_others_can_use_is_refused(tmp_path: Path, mode: int) -> None:
    """Any group or other permission refuses the key, in one line naming it and the fix."""
    path = key_with_mode(tmp_path, mode)
    with pytest.raises(AuthorizationError) as caught:
        read_key_file(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"chmod 600 {path}" in message
    assert f"{mode:04o}" in message


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_key_only_its_owner_can_read_is_read(tmp_path: Path, mode: int) -> None:
    """An owner-only key is returned as stored."""
    assert read_key_file(key_with_mode(tmp_path, mode)) == PEM


def test_without_posix_modes_the_key_is_only_read(tmp_path: Path) -> None:
    """Where modes mean nothing (check_mode false, as on Windows) the mode is not held against
    the key.
    """
    assert read_private_key(key_with_mode(tmp_path, 0o644), check_mode=False) == PEM


def test_missing_key_is_still_reported_as_unreadable(tmp_path: Path) -> None:
    """A key that cannot be opened keeps its old message, naming the path and the cause."""
    with pytest.raises(AuthorizationError, match=r"cannot read the JWT key .*No such file"):
        read_key_file(tmp_path / "absent.pem")
