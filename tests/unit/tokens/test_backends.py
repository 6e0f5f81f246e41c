"""Backend selection: the cryptfile keyring unlocked without a prompt, never a plaintext file,
and a plain error when nothing is usable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from keyrings.cryptfile.cryptfile import CryptFileKeyring

from sfsync.config.schema import KeyringSettings
from sfsync.errors import TokenStoreError
from sfsync.tokens.backends import open_backend, read_passphrase
from sfsync.tokens.keyring_store import KeyringTokenStore
from sfsync.tokens.record import StoredAuthorization

RECORD = StoredAuthorization(
    flow="web",
    instance_url="https://acme.my.salesforce.com",
    identity_url="https://login.salesforce.com/id/00D/005",
    login_url="https://test.salesforce.com",
    client_id="3MVG9",
    issued_at="2026-01-01T00:00:00+00:00",
    refresh_token="5Aep861" + "Q" * 80,
)


def test_passphrase_from_systemd_credential_wins(tmp_path: Path) -> None:
    """$CREDENTIALS_DIRECTORY/keyring-passphrase is read before the environment variable."""
    (tmp_path / "keyring-passphrase").write_text("from-credential\n")
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path), "SFSYNC_KEYRING_PASSPHRASE": "from-env"}
    assert read_passphrase(environ) == "from-credential"


def test_passphrase_from_environment() -> None:
    """Without a credential, $SFSYNC_KEYRING_PASSPHRASE is used."""
    assert read_passphrase({"SFSYNC_KEYRING_PASSPHRASE": "pw"}) == "pw"
    assert read_passphrase({}) is None


def test_cryptfile_round_trip_and_encrypted_on_disk(tmp_path: Path) -> None:
    """The cryptfile keyring stores and returns a record; the file never holds the token."""
    path = tmp_path / "keyring.cfg"
    settings = KeyringSettings(backend="cryptfile", cryptfile_path=path)
    store = KeyringTokenStore(open_backend(settings, {"SFSYNC_KEYRING_PASSPHRASE": "pw"}))
    store.put("lightning/sandbox", RECORD)
    reopened = KeyringTokenStore(open_backend(settings, {"SFSYNC_KEYRING_PASSPHRASE": "pw"}))
    assert reopened.get("lightning/sandbox") == RECORD
    assert RECORD.refresh_token is not None
    assert RECORD.refresh_token not in path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert reopened.delete("lightning/sandbox")
    assert reopened.get("lightning/sandbox") is None


def test_cryptfile_wrong_passphrase(tmp_path: Path) -> None:
    """A wrong passphrase is a TokenStoreError, not a prompt."""
    settings = KeyringSettings(backend="cryptfile", cryptfile_path=tmp_path / "k.cfg")
    open_backend(settings, {"SFSYNC_KEYRING_PASSPHRASE": "right"})
    with pytest.raises(TokenStoreError, match="passphrase does not open it"):
        open_backend(settings, {"SFSYNC_KEYRING_PASSPHRASE": "wrong"})


def test_cryptfile_without_passphrase_never_prompts(tmp_path: Path) -> None:
    """backend = "cryptfile" with no passphrase says where to put one."""
    settings = KeyringSettings(backend="cryptfile", cryptfile_path=tmp_path / "k.cfg")
    with pytest.raises(TokenStoreError, match=r"never prompts.*keyring-passphrase"):
        open_backend(settings, {})


def test_auto_with_passphrase_picks_cryptfile(tmp_path: Path) -> None:
    """auto + a passphrase means the encrypted file (the headless systemd set-up)."""
    settings = KeyringSettings(cryptfile_path=tmp_path / "k.cfg")
    backend = open_backend(settings, {"SFSYNC_KEYRING_PASSPHRASE": "pw"})
    assert isinstance(backend, CryptFileKeyring)


def test_no_usable_backend_lists_what_was_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no Secret Service and no passphrase, the error names the backends tried and how
    to configure one; nothing falls back to plain text.
    """
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    with pytest.raises(TokenStoreError) as caught:
        open_backend(KeyringSettings(), {})
    message = str(caught.value)
    assert "no usable keyring backend" in message
    assert "SecretService" in message
    assert "cryptfile" in message
    assert "SFSYNC_KEYRING_PASSPHRASE" in message


@pytest.mark.parametrize("name", ["keyring.backends.null.Keyring", "keyring.backends.fail.Keyring"])
def test_backends_that_keep_nothing_are_refused(name: str) -> None:
    """A backend that stores nothing is refused even when named explicitly."""
    with pytest.raises(TokenStoreError, match="cannot keep a secret"):
        open_backend(KeyringSettings(backend=name), {})


def test_keyring_env_choice_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """PYTHON_KEYRING_BACKEND naming the null backend is refused, not obeyed."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    with pytest.raises(TokenStoreError, match="cannot keep a secret"):
        open_backend(KeyringSettings(), {})
