"""The keyring passphrase is taken out of the process environment once read (issue 14 item 9b),
and the CLI makes its process undumpable where it can.
"""

from __future__ import annotations

import os
import sys

import pytest

from sfsync import hardening
from sfsync.tokens import secret_env
from sfsync.tokens.backends import PASSPHRASE_VARIABLE, read_passphrase


@pytest.fixture(autouse=True)
def _nothing_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test with no passphrase remembered from another."""
    monkeypatch.setattr(secret_env, "_taken", {})
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def test_passphrase_read_from_the_environment_leaves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once read, the variable is gone from os.environ, so no child process inherits it."""
    monkeypatch.setenv(PASSPHRASE_VARIABLE, "hunter2-passphrase")
    assert read_passphrase() == "hunter2-passphrase"
    assert PASSPHRASE_VARIABLE not in os.environ


def test_passphrase_is_still_there_for_a_reload(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second read in the same process (a reload opens the keyring again) gets the value
    taken; a value set again afterwards wins.
    """
    monkeypatch.setenv(PASSPHRASE_VARIABLE, "first")
    read_passphrase()
    assert read_passphrase() == "first"
    monkeypatch.setenv(PASSPHRASE_VARIABLE, "second")
    assert read_passphrase() == "second"
    assert PASSPHRASE_VARIABLE not in os.environ


def test_an_explicit_mapping_is_only_read() -> None:
    """A mapping other than os.environ (tests, callers passing their own) is left as it is."""
    environ = {PASSPHRASE_VARIABLE: "pw"}
    assert read_passphrase(environ) == "pw"
    assert environ == {PASSPHRASE_VARIABLE: "pw"}


def test_unset_passphrase_is_none() -> None:
    """With nothing set and nothing taken, there is no passphrase."""
    assert PASSPHRASE_VARIABLE not in os.environ
    assert read_passphrase() is None


def test_undumpable_is_a_no_op_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where prctl does not exist, making the process undumpable does nothing and says so."""
    monkeypatch.setattr(sys, "platform", "darwin")
    assert hardening.make_undumpable() is False
