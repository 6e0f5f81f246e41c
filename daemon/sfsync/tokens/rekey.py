"""Changing the cryptfile keyring's passphrase without authorizing every org again: every entry
is decrypted with the old passphrase and written to a new file under the new one, which then
replaces the old file in one rename. Until that rename nothing has changed, so a failure
half-way (a wrong passphrase, a full disk, an entry that does not decrypt) loses nothing.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from keyrings.cryptfile.escape import unescape

from sfsync.errors import PathError, TokenStoreError, describe_os_error
from sfsync.tokens.backends import open_cryptfile
from sfsync.tokens.lock import keyring_lock

# The section keyrings.cryptfile keeps its own settings in (the passphrase check, the scheme).
_SETTINGS_SECTION = "keyring-setting"


def rekey_cryptfile(path: Path, old: str, new: str, lock_path: Path | None) -> int:
    """Given the cryptfile, its passphrase and a new one, re-encrypt every entry under the new
    passphrase and return how many there were. Hold the keyring lock throughout.

    Raise TokenStoreError if the old passphrase does not open the file or an entry cannot be
    read, PathError if the new file cannot be written; the old file is then left as it was.
    """
    if not new or new == old:
        raise TokenStoreError("the new passphrase must be given and differ from the old one")
    with keyring_lock(lock_path):
        source = open_cryptfile(path, old)
        entries = []
        for service, username in _entry_names(path):
            try:
                value = source.get_password(service, username)
            except (ValueError, KeyError) as error:
                raise TokenStoreError(
                    f"{path}: entry {service}/{username} does not decrypt ({error}); nothing "
                    "was changed"
                ) from None
            if value is not None:
                entries.append((service, username, value))
        fresh = path.with_name(path.name + ".rekey")
        fresh.unlink(missing_ok=True)
        try:
            target = open_cryptfile(fresh, new)
            for service, username, value in entries:
                target.set_password(service, username, value)
            fresh.replace(path)
        except OSError as error:
            fresh.unlink(missing_ok=True)
            raise PathError(
                describe_os_error(path, error, "write the re-encrypted keyring")
            ) from None
    return len(entries)


def _entry_names(path: Path) -> list[tuple[str, str]]:
    """Return (service, username) of every entry in the cryptfile, its settings aside."""
    config = configparser.RawConfigParser()
    config.read(path)
    return [
        (unescape(section), unescape(option))
        for section in config.sections()
        if unescape(section) != _SETTINGS_SECTION
        for option in config.options(section)
    ]
