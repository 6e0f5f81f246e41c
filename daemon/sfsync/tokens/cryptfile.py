"""keyrings.cryptfile's encrypted-file backend, made safe and fast for sfsync.

Atomic: keyrings.cryptfile rewrites its whole file in place (`open(path, "w")`) on every write and
delete: a process killed mid-write leaves it empty, and every token in it is lost. Here each
rewrite goes to a temp file beside it, is flushed to disk and renamed over it. (Two processes
rewriting it at once is the other half of the problem; `sfsync.tokens.lock` serialises them.)

Fast: The stock backend derives an Argon2 key (about a second of CPU with its defaults) for every
value it reads or writes: each value carries its own random salt, and the unlocking check reads
one more. A command touching N entries paid for 2N to 3N derivations. Here:

- keys are remembered per (passphrase, salt, Argon2 parameters), so a salt is derived at most
  once per process, whatever reads it again (the stock `get_password` even decrypts twice
  when a value has no associated data);
- values are written under the salt of the file's own reference value (the one unlocking
  decrypts to check the passphrase), each with its own random nonce: writing costs no
  derivation, and a value sfsync wrote costs none to read in the next process either, beyond
  the unlocking's. AES-GCM under one key with random 96-bit nonces is its ordinary use; the
  salt, random per file, still defeats precomputation.

- many values are read from one parsing of the file (`get_passwords`) and written in one
  rewrite (`set_passwords`): the stock backend parses (and rewrites) the whole file for each
  value, which made reading N values cost N times the file, 10 minutes for 10,000 connectors.

The file format is unchanged: each value is still `{salt, data, mac, nonce}`, readable by the
stock backend and by earlier sfsync versions.
"""

from __future__ import annotations

import configparser
import io
import json
import os
import threading
from base64 import decodebytes, encodebytes
from collections.abc import Collection, Hashable, Mapping
from pathlib import Path
from typing import Any

from keyring.errors import PasswordDeleteError
from keyrings.cryptfile.cryptfile import CryptFileKeyring
from keyrings.cryptfile.escape import escape as escape_for_ini

from sfsync.files import make_private_directories, write_atomically
from sfsync.tokens.caching import file_marker

SALT_BYTES = 16  # what the stock backend draws per value
GCM_TAG_BYTES = 16  # what the stock backend writes (pycryptodome's default)
# The value the stock backend writes into a new file to check the passphrase against.
REFERENCE = ("keyring-setting", "password reference")


class AtomicCryptFileKeyring(CryptFileKeyring):  # type: ignore[misc] # untyped library class
    """CryptFileKeyring whose file is only ever replaced whole, with mode 0600."""

    def _ensure_file_path(self) -> None:
        # The base creates an empty file; here the first write creates it whole.
        make_private_directories(Path(self.file_path).parent)

    def _write_config_value(self, service: str, key: str, value: str) -> None:
        self._ensure_file_path()
        config = self._read()
        section = escape_for_ini(service)
        if not config.has_section(section):
            config.add_section(section)
        config.set(section, escape_for_ini(key), value)
        self._replace(config)

    def delete_password(self, service: str, username: str) -> None:
        """Delete the entry; raise PasswordDeleteError if there is none."""
        config = self._read()
        try:
            removed = config.remove_option(escape_for_ini(service), escape_for_ini(username))
        except configparser.NoSectionError:
            removed = False
        if not removed:
            raise PasswordDeleteError("Password not found")
        self._replace(config)

    def _read(self) -> configparser.RawConfigParser:
        config = configparser.RawConfigParser()
        config.read(self.file_path)
        return config

    def _replace(self, config: configparser.RawConfigParser) -> None:
        text = io.StringIO()
        config.write(text)
        write_atomically(Path(self.file_path), text.getvalue().encode(), mode=0o600)


class FastCryptFileKeyring(AtomicCryptFileKeyring):
    """The atomic cryptfile keyring that also derives each salt's key once and writes under
    the salt of the file's reference value; the stored format is the stock one.
    """

    # Never chosen automatically: sfsync makes it itself, with the passphrase set (it would
    # otherwise prompt). keyring registers every subclass of its backend class.
    priority = 0.0

    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[tuple[Any, ...], bytes] = {}
        self._keys_lock = threading.Lock()
        # A new file's reference is the first value written, under this salt; an existing
        # file's reference salt replaces it on unlocking.
        self._write_salt = os.urandom(SALT_BYTES)
        self.derivations = 0  # how many Argon2 keys this backend derived (for tests, benches)
        # The file as parsed while unlocking, and its (size, mtime, inode) then.
        self._parsed: tuple[Hashable, configparser.RawConfigParser] | None = None
        self._parsed_lock = threading.Lock()

    def get_password(self, service: str, username: str) -> str | None:
        """Return the value stored for the service and user name, or None; raise ValueError
        if it does not decrypt.
        """
        return self.get_passwords(service, [username]).get(username)

    def get_passwords(self, service: str, usernames: Collection[str]) -> dict[str, str]:
        """Given a service and user names, return the value of each user name that has one
        (the others are absent), from one reading of the file; raise ValueError naming the
        entry if one does not decrypt.
        """
        config = self._read_shared()
        self._check_version(config)  # which joiner the associated data uses
        section = escape_for_ini(service)
        if not config.has_section(section):
            return {}
        values = config[section]
        # The associated data is `_generate_assoc`'s, escaped service, joiner, escaped user
        # name; its joiner (which depends on the file's version) is found once.
        prefix = section.encode() + self._generate_assoc("", "")
        found: dict[str, str] = {}
        for username in usernames:
            option = escape_for_ini(username)
            text = values.get(option)
            if text is None:
                continue
            try:
                found[username] = self._open(text, prefix + option.encode())
            except ValueError as error:
                # One pass reads many entries: the message says which one failed.
                raise ValueError(f"entry {service}/{username}: {error}") from None
        return found

    def set_passwords(self, service: str, values: Mapping[str, str]) -> None:
        """Given a service and a value per user name, store them all in one rewrite of the
        file (replacing earlier values of those names).
        """
        self._ensure_file_path()
        config = self._read()
        self._check_version(config)
        section = escape_for_ini(service)
        if values and not config.has_section(section):
            config.add_section(section)
        for username, value in values.items():
            sealed = self.encrypt(value.encode(), self._generate_assoc(service, username))
            # As the stock set_password writes it: base64 on lines of its own.
            config.set(section, escape_for_ini(username), "\n" + encodebytes(sealed).decode())
        self._replace(config)

    def _read_shared(self) -> configparser.RawConfigParser:
        """Return the file parsed, parsed again only if it changed since (its size, mtime or
        inode) or unlocking ended; the caller must not change what it gets. Unlocking reads
        the file twice: at 10,000 entries, each parse costs a third of a second of CPU.
        """
        marker = file_marker(Path(self.file_path))()
        with self._parsed_lock:
            if marker is not None and self._parsed is not None and self._parsed[0] == marker:
                return self._parsed[1]
        # Marked before reading: a change in between only makes the next call parse again.
        config = self._read()
        with self._parsed_lock:
            self._parsed = (marker, config)
        return config

    def _open(self, text: str, assoc: bytes) -> str:
        """Given a stored value and its associated data, return the plain value; raise
        ValueError if it does not decrypt.
        """
        sealed = decodebytes(text.encode())
        envelope = json.loads(sealed.decode())
        fields = {name: decodebytes(str(value).encode()) for name, value in envelope.items()}
        tag = fields.get("mac", b"")
        if self.aesmode != "GCM" or len(tag) != GCM_TAG_BYTES:
            return self._open_stock(sealed, assoc)
        # AES-GCM through `cryptography`: one C call, where pycryptodome's cipher objects cost
        # half a millisecond each to build (5 s for 10,000 values). The same algorithm.
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415 - loaded on use
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

        cipher = AESGCM(self._key(self.keyring_key, fields["salt"]))
        # Values of files from before keyrings.cryptfile 1.3.x carry no associated data.
        for associated in (assoc, None):
            try:
                plain = cipher.decrypt(fields["nonce"], fields["data"] + tag, associated)
            except InvalidTag:
                continue
            return plain.decode("utf-8")
        raise ValueError("MAC check failed")

    def _open_stock(self, sealed: bytes, assoc: bytes) -> str:
        try:
            return bytes(self.decrypt(sealed, assoc)).decode("utf-8")
        except ValueError:
            return bytes(self.decrypt(sealed)).decode("utf-8")

    def encrypt(self, password: bytes, assoc: bytes | None = None) -> bytes:
        """Given a value's bytes (and associated data), return its stock JSON envelope,
        encrypted under this process's salt with a fresh random nonce.
        """
        cipher = self._create_cipher(self.keyring_key, self._write_salt)
        if assoc is not None:
            cipher.update(assoc)
        data, mac = cipher.encrypt_and_digest(password)
        fields = {"salt": self._write_salt, "data": data, "mac": mac, "nonce": cipher.nonce}
        # The stock envelope: base64 without the trailing newline, in this key order.
        return json.dumps(
            {key: encodebytes(value).decode()[:-1] for key, value in fields.items()}
        ).encode()

    def _check_file(self) -> bool:
        """Return whether the file exists and holds a reference value with a usable scheme and
        version (the stock check, which raises ValueError on another scheme), from the parse
        unlocking then shares: the stock check parsed the file once more for itself.
        """
        if not Path(self.file_path).exists():
            return False
        self._migrate()
        config = self._read_shared()
        if not config.has_option(escape_for_ini(REFERENCE[0]), escape_for_ini(REFERENCE[1])):
            return False
        try:
            self._check_scheme(config)
        except AttributeError:  # a missing scheme is accepted
            return True
        return bool(self._check_version(config))

    def _unlock(self) -> None:
        """Check the passphrase against the file's reference value (raise ValueError if it
        does not open it), then write under that value's salt, whose key is now known.
        """
        # The parse unlocking shares is kept for the bulk read that follows it (every command
        # and the daemon's start read every entry next): dropping it here cost a second parse,
        # about 0.7 s of CPU at 10,000 entries. `_read_shared` keeps it while the file is
        # unchanged in any case (about 12 MB at 10,000 entries).
        super()._unlock()
        salt = self._reference_salt()
        if salt is not None:
            self._write_salt = salt

    def _reference_salt(self) -> bytes | None:
        """Return the salt of the file's reference value, or None if it cannot be read."""
        config = self._read_shared()
        try:
            text = config.get(escape_for_ini(REFERENCE[0]), escape_for_ini(REFERENCE[1]))
            envelope = json.loads(decodebytes(text.encode()).decode())
            salt = decodebytes(envelope["salt"].encode())
        except (configparser.Error, ValueError, KeyError, TypeError, AttributeError):
            return None
        return salt if len(salt) == SALT_BYTES else None

    def _create_cipher(self, password: str, salt: bytes, nonce: bytes | None = None) -> Any:
        """Return an AES cipher for the passphrase and salt, deriving the key only the first
        time this backend meets that salt.
        """
        from Crypto.Cipher import AES  # noqa: PLC0415  # nosec B413 - pycryptodome, as the stock backend

        mode = self._get_mode(self.aesmode)
        if mode is None:
            msg = f"invalid AES mode: {self.aesmode}"
            raise ValueError(msg)
        key = self._key(password, salt)
        return AES.new(key, mode, nonce)

    def _key(self, password: str, salt: bytes) -> bytes:
        identity = (
            password,
            bytes(salt),
            self.time_cost,
            self.memory_cost,
            self.parallelism,
            self.password_encoding,
        )
        with self._keys_lock:
            # Held while deriving: two threads asking for one salt derive it once.
            key = self._keys.get(identity)
            if key is None:
                key = derive_key(
                    password.encode(self.password_encoding),
                    bytes(salt),
                    time_cost=self.time_cost,
                    memory_cost=self.memory_cost,
                    parallelism=self.parallelism,
                )
                self._keys[identity] = key
                self.derivations += 1
            return key


def derive_key(
    secret: bytes, salt: bytes, *, time_cost: int, memory_cost: int, parallelism: int
) -> bytes:
    """Given the passphrase's bytes, a salt and Argon2 parameters, return the 16-byte AES key
    the stock backend derives (Argon2id).
    """
    from argon2.low_level import Type, hash_secret_raw  # noqa: PLC0415 - loaded on use

    return hash_secret_raw(
        secret=secret,
        salt=salt,
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        hash_len=16,
        type=Type.ID,
    )
