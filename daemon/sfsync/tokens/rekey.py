"""Re-encrypting the cryptfile keyring without authorizing any org again: every entry is
decrypted and written to a new file, which then replaces the old one in one rename. Until that
rename nothing has changed, so a failure half-way (a wrong passphrase, a full disk, an entry
that does not decrypt) loses nothing.

`rekey_cryptfile` changes the passphrase. `reseal_cryptfile` keeps it and leaves every entry
under the new file's one salt: a file whose entries were each written with a salt of their
own (by keyrings.cryptfile itself, or by earlier sfsync versions) costs an Argon2 derivation
per entry in every process that reads it, and one for all of them once resealed.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from keyrings.cryptfile.escape import unescape

from sfsync.errors import PathError, TokenStoreError, describe_os_error
from sfsync.tokens.backends import open_cryptfile
from sfsync.tokens.cryptfile import FastCryptFileKeyring
from sfsync.tokens.lock import keyring_lock

# The section keyrings.cryptfile keeps its own settings in (the passphrase check, the scheme).
_SETTINGS_SECTION = "keyring-setting"


def rekey_cryptfile(path: Path, old: str, new: str, lock_path: Path | None) -> int:
    """Given the cryptfile, its passphrase and a new one, re-encrypt every entry under the new
    passphrase and return how many there were. Hold the keyring lock throughout.

    Raise TokenStoreError if the new passphrase is empty or the old one, if the old passphrase
    does not open the file or an entry cannot be read, PathError if the new file cannot be
    written; the old file is then left as it was.
    """
    if not new or new == old:
        raise TokenStoreError("the new passphrase must be given and differ from the old one")
    return _reencrypt(path, old, new, lock_path)


def reseal_cryptfile(path: Path, passphrase: str, lock_path: Path | None) -> int:
    """Given the cryptfile and its passphrase, re-encrypt every entry under one new salt,
    keeping the passphrase, and return how many there were; raise as `rekey_cryptfile` does.
    """
    return _reencrypt(path, passphrase, passphrase, lock_path)


def _reencrypt(path: Path, old: str, new: str, lock_path: Path | None) -> int:
    with keyring_lock(lock_path):
        source = _opened(path, old)
        entries = {
            service: _read_all(source, path, service, usernames)
            for service, usernames in _entry_names(path).items()
        }
        fresh = path.with_name(path.name + ".rekey")
        fresh.unlink(missing_ok=True)
        try:
            target = _opened(fresh, new)
            for service, values in entries.items():
                target.set_passwords(service, values)
            fresh.replace(path)
        except OSError as error:
            fresh.unlink(missing_ok=True)
            raise PathError(
                describe_os_error(path, error, "write the re-encrypted keyring")
            ) from None
    return sum(len(values) for values in entries.values())


def _opened(path: Path, passphrase: str) -> FastCryptFileKeyring:
    backend = open_cryptfile(path, passphrase)
    if not isinstance(backend, FastCryptFileKeyring):  # pragma: no cover - open_cryptfile's own
        raise TypeError(f"{path}: not sfsync's cryptfile backend")
    return backend


def _read_all(
    source: FastCryptFileKeyring, path: Path, service: str, usernames: list[str]
) -> dict[str, str]:
    """Return every entry of `service`, read in one pass; raise TokenStoreError naming the
    first entry that does not decrypt.
    """
    try:
        return source.get_passwords(service, usernames)
    except (ValueError, KeyError):
        pass
    for username in usernames:  # only to name the entry that fails
        try:
            source.get_passwords(service, [username])
        except (ValueError, KeyError) as error:
            raise TokenStoreError(
                f"{path}: entry {service}/{username} does not decrypt ({error}); nothing "
                "was changed"
            ) from None
    raise TokenStoreError(f"{path}: an entry of {service} does not decrypt; nothing was changed")


def _entry_names(path: Path) -> dict[str, list[str]]:
    """Return the user names of every entry in the cryptfile by service, its settings aside."""
    config = configparser.RawConfigParser()
    config.read(path)
    return {
        unescape(section): [unescape(option) for option in config.options(section)]
        for section in config.sections()
        if unescape(section) != _SETTINGS_SECTION
    }
