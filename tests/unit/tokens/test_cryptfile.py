"""sfsync's cryptfile backend: each Argon2 key derived once per process, writes under the
reference value's salt, and files the stock keyrings.cryptfile backend reads and writes alike.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest
from keyrings.cryptfile.cryptfile import CryptFileKeyring

from sfsync.tokens.cryptfile import FastCryptFileKeyring

PASSPHRASE = "unit-passphrase"


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest: the tests count derivations, they need not pay for them."""
    monkeypatch.setattr(CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(CryptFileKeyring, "memory_cost", 8)
    monkeypatch.setattr(CryptFileKeyring, "parallelism", 1)


def opened(backend: CryptFileKeyring, path: Path) -> CryptFileKeyring:
    """Return the backend on `path`, unlocked with the passphrase (creating the file)."""
    backend.file_path = str(path)
    backend.keyring_key = PASSPHRASE
    return backend


def test_each_salt_is_derived_once(tmp_path: Path) -> None:
    """Reading values again, and writing many, derives no key twice: one key, the file's
    reference value's, serves every value this process writes, whatever their number.
    """
    backend = opened(FastCryptFileKeyring(), tmp_path / "k.cfg")
    for index in range(5):
        backend.set_password("sfsync", f"s/e{index}", f"value {index}")
    for _ in range(2):
        for index in range(5):
            assert backend.get_password("sfsync", f"s/e{index}") == f"value {index}"
    assert backend.derivations == 1


def test_a_new_process_derives_once_per_salt(tmp_path: Path) -> None:
    """Values a stock backend wrote (a salt each) cost one derivation each to read, once;
    values sfsync wrote cost none beyond the unlocking's, in a file the stock backend made.
    """
    path = tmp_path / "k.cfg"
    stock = opened(CryptFileKeyring(), path)
    for index in range(3):
        stock.set_password("sfsync", f"stock/e{index}", f"stock {index}")
    writer = opened(FastCryptFileKeyring(), path)
    for index in range(3):
        writer.set_password("sfsync", f"fast/e{index}", f"fast {index}")
    reader = opened(FastCryptFileKeyring(), path)
    assert reader.derivations == 1, "the reference value, on unlocking"
    for index in range(3):
        assert reader.get_password("sfsync", f"stock/e{index}") == f"stock {index}"
    assert reader.derivations == 1 + 3
    for _ in range(2):
        for index in range(3):
            assert reader.get_password("sfsync", f"fast/e{index}") == f"fast {index}"
    assert reader.derivations == 1 + 3
    assert writer.derivations == 1


def test_stock_backend_reads_what_sfsync_writes(tmp_path: Path) -> None:
    """The file format is the stock one: keyrings.cryptfile opens a file sfsync created and
    reads its values; a wrong passphrase is still refused.
    """
    path = tmp_path / "k.cfg"
    fast = opened(FastCryptFileKeyring(), path)
    fast.set_password("sfsync", "lightning/sandbox", '{"refresh_token": "x"}')
    stock = opened(CryptFileKeyring(), path)
    assert stock.get_password("sfsync", "lightning/sandbox") == '{"refresh_token": "x"}'
    wrong = FastCryptFileKeyring()
    wrong.file_path = str(path)
    with pytest.raises(ValueError, match=r"MAC check failed|Incorrect"):
        wrong.keyring_key = "not the passphrase"
    assert "refresh_token" not in path.read_text()


def test_get_passwords_reads_many_values_as_get_password_does(tmp_path: Path) -> None:
    """One pass over the file answers what single reads answer: the stock backend's values
    (a salt each, one derivation each) and sfsync's (the reference's key); absent names are
    left out, and another service's entries are not answered.
    """
    path = tmp_path / "k.cfg"
    stock = opened(CryptFileKeyring(), path)
    stock.set_password("sfsync", "stock/e0", "stock 0")
    stock.set_password("other", "fast/e0", "not sfsync's")
    writer = opened(FastCryptFileKeyring(), path)
    writer.set_passwords("sfsync", {f"fast/e{index}": f"fast {index}" for index in range(3)})
    reader = opened(FastCryptFileKeyring(), path)
    names = ["stock/e0", "fast/e0", "fast/e1", "fast/e2", "nobody/e0"]
    many = reader.get_passwords("sfsync", names)
    assert many == {name: stock.get_password("sfsync", name) for name in names[:4]}
    assert reader.derivations == 1 + 1, "the reference's key and the stock value's own"
    assert reader.get_passwords("nothing-here", names) == {}


def test_set_passwords_writes_stock_values_in_one_rewrite(tmp_path: Path) -> None:
    """Many values are stored in one rewrite of the file (one new inode), under the
    reference's key, readable by the stock backend, replacing earlier values of those names.
    """
    path = tmp_path / "k.cfg"
    fast = opened(FastCryptFileKeyring(), path)
    fast.set_password("sfsync", "a/e0", "old")
    before = path.stat().st_ino
    fast.set_passwords("sfsync", {"a/e0": "new", "a/e1": "one", "b/e2": "two"})
    assert path.stat().st_ino != before
    assert path.stat().st_mode & 0o777 == 0o600
    stock = opened(CryptFileKeyring(), path)
    assert [stock.get_password("sfsync", name) for name in ("a/e0", "a/e1", "b/e2")] == [
        "new",
        "one",
        "two",
    ]
    assert fast.derivations == 1


def test_a_tampered_value_is_refused(tmp_path: Path) -> None:
    """A value sealed under another passphrase does not decrypt: ValueError, as the stock
    backend raises, never a wrong value.
    """
    path = tmp_path / "k.cfg"
    fast = opened(FastCryptFileKeyring(), path)
    fast.set_password("sfsync", "a/e0", "secret value")
    other = FastCryptFileKeyring()
    other.file_path = str(tmp_path / "other.cfg")
    other.keyring_key = "another passphrase"
    other.set_password("sfsync", "a/e0", "another value")
    # Swap in a value sealed under another passphrase: its tag cannot verify here.
    text = path.read_text()
    foreign = (tmp_path / "other.cfg").read_text()
    mine = text.split("[sfsync]")[1]
    theirs = foreign.split("[sfsync]")[1]
    path.write_text(text.replace(mine, theirs))
    with pytest.raises(ValueError, match=r"entry sfsync/a/e0: MAC check failed"):
        opened(FastCryptFileKeyring(), path).get_passwords("sfsync", ["a/e0"])


def test_reads_see_another_writers_change(tmp_path: Path) -> None:
    """The parse a reader keeps between reads is dropped once another writer (another
    process) changes the file: the new value is read, not the remembered one.
    """
    path = tmp_path / "k.cfg"
    reader = opened(FastCryptFileKeyring(), path)
    reader.set_password("sfsync", "a/e0", "first")
    assert reader.get_passwords("sfsync", ["a/e0", "a/e1"]) == {"a/e0": "first"}
    writer = opened(FastCryptFileKeyring(), path)
    writer.set_passwords("sfsync", {"a/e0": "second", "a/e1": "new"})
    assert reader.get_passwords("sfsync", ["a/e0", "a/e1"]) == {"a/e0": "second", "a/e1": "new"}


def test_opening_and_reading_every_entry_parses_the_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening an existing file parses it once (shared by the file check, the passphrase check
    and the reference's salt), and the bulk read that follows uses that parse.
    """
    path = tmp_path / "k.cfg"
    opened(FastCryptFileKeyring(), path).set_password("sfsync", "a/e0", "value")
    parses: list[object] = []
    real_read = configparser.RawConfigParser.read

    def read(parser: configparser.RawConfigParser, *args: Any, **kwargs: Any) -> Any:
        parses.append(args)
        return real_read(parser, *args, **kwargs)

    monkeypatch.setattr(configparser.RawConfigParser, "read", read)
    backend = opened(FastCryptFileKeyring(), path)
    assert len(parses) == 1
    assert backend.get_passwords("sfsync", ["a/e0"]) == {"a/e0": "value"}
    assert len(parses) == 1
