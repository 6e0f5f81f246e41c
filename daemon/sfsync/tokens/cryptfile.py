"""The cryptfile keyring, written so that no reader or crash ever sees half a file.

keyrings.cryptfile rewrites its whole file in place (`open(path, "w")`) on every write and
delete: a process killed mid-write leaves it empty, and every token in it is lost. Here each
rewrite goes to a temp file beside it, is flushed to disk and renamed over it. (Two processes
rewriting it at once is the other half of the problem; `sfsync.tokens.lock` serialises them.)
"""

from __future__ import annotations

import configparser
import io
from pathlib import Path

from keyring.errors import PasswordDeleteError
from keyrings.cryptfile.cryptfile import CryptFileKeyring
from keyrings.cryptfile.escape import escape as escape_for_ini

from sfsync.files import make_private_directories, write_atomically


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
