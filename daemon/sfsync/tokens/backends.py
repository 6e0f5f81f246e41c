"""Choosing and unlocking a keyring backend; refusing every backend that would not keep a secret.

Choosing is done apart from the keyring calls: `backend_candidates` only reports, and
`open_backend` is the one place that instantiates and unlocks.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import keyring.backend
import keyring.core
from keyring.backend import KeyringBackend

from sfsync.config.schema import KeyringSettings
from sfsync.errors import PathError, TokenStoreError, describe_os_error
from sfsync.files import make_private_directories
from sfsync.tokens.lock import keyring_lock
from sfsync.tokens.secret_env import take_secret_variable

PASSPHRASE_VARIABLE = "SFSYNC_KEYRING_PASSPHRASE"  # noqa: S105 - a variable's name, not a secret  # the variable's name, not its value  # nosec B105
PASSPHRASE_CREDENTIAL = "keyring-passphrase"  # noqa: S105 - a credential's name, not a secret  # the credential's name, not its value  # nosec B105
CRYPTFILE = "keyrings.cryptfile.cryptfile.CryptFileKeyring"
# sfsync's own subclasses (sfsync.tokens.cryptfile), registered with keyring once imported; like
# the class they extend, only ever opened by `open_backend` with sfsync's passphrase.
FAST_CRYPTFILE = "sfsync.tokens.cryptfile.FastCryptFileKeyring"
_CRYPTFILES = (CRYPTFILE, "sfsync.tokens.cryptfile.AtomicCryptFileKeyring", FAST_CRYPTFILE)
# Backends that cannot keep a secret, or that would prompt on a terminal, are never chosen
# automatically: "fail" and "null" store nothing, the chainer may reach a prompting file backend,
# and the file backends of keyrings.alt and keyrings.cryptfile (other than CryptFileKeyring,
# which sfsync unlocks itself) are plaintext or prompt for their own password.
_NEVER_AUTOMATIC = ("keyring.backends.fail", "keyring.backends.null", "keyring.backends.chainer")
_UNSAFE_MODULES = ("keyrings.alt", "keyrings.cryptfile.file")
RECOMMENDED_PRIORITY = 1  # keyring's own threshold for a backend it recommends

HOW_TO_CONFIGURE = (
    "configure one: on a desktop, run a Secret Service (GNOME Keyring, KWallet) or use the macOS "
    "Keychain / Windows Credential Locker; on a headless box set [keyring] backend = "
    f'"cryptfile" and give its passphrase in ${PASSPHRASE_VARIABLE} or as the systemd credential '
    f'"{PASSPHRASE_CREDENTIAL}" (LoadCredential=); see README "Keyring"'
)


@dataclass(frozen=True)
class Candidate:
    """One keyring backend class and why it can or cannot be used."""

    name: str
    priority: float | None
    problem: str | None


def read_passphrase(environ: Mapping[str, str] = os.environ) -> str | None:
    """Return the cryptfile passphrase from the systemd credential, else the environment, else
    None. Trailing newlines are not part of it. Read from the process environment, the variable
    is removed from it (`take_secret_variable`).
    """
    credentials = environ.get("CREDENTIALS_DIRECTORY")
    if credentials:
        path = Path(credentials) / PASSPHRASE_CREDENTIAL
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n") or None
        except FileNotFoundError:
            pass
        except OSError as error:
            raise TokenStoreError(f"{path}: cannot read the keyring passphrase: {error}") from None
    return take_secret_variable(PASSPHRASE_VARIABLE, environ) or None


def backend_name(backend_class: type[KeyringBackend]) -> str:
    """Return a backend class as "module.Class"."""
    return f"{backend_class.__module__}.{backend_class.__name__}"


def backend_candidates() -> list[Candidate]:
    """Return every backend the keyring library knows, best first, each with its problem."""
    keyring.backend._load_plugins()  # noqa: SLF001 - the library's own discovery of plug-ins
    candidates = []
    for backend_class in keyring.backend.KeyringBackend._classes:  # noqa: SLF001
        name = backend_name(backend_class)
        if name.startswith(_NEVER_AUTOMATIC) or name in _CRYPTFILES:
            continue
        problem: str | None = None
        priority: float | None = None
        if name.startswith(_UNSAFE_MODULES):
            problem = "not used automatically (plaintext or prompting file backend)"
        else:
            try:
                priority = float(backend_class.priority)
            except Exception as error:  # noqa: BLE001 - a backend reports unavailability by raising anything
                problem = str(error) or type(error).__name__
            else:
                if priority < RECOMMENDED_PRIORITY:
                    problem = f"priority {priority:g} (not recommended by keyring)"
        candidates.append(Candidate(name, priority, problem))
    return sorted(candidates, key=lambda item: (item.problem is not None, -(item.priority or 0)))


def open_backend(
    settings: KeyringSettings,
    environ: Mapping[str, str] = os.environ,
    lock_path: Path | None = None,
) -> KeyringBackend:
    """Given the [keyring] settings, return a ready backend. A cryptfile keyring is opened
    (or created) holding the keyring lock at `lock_path`, if given.

    Raise TokenStoreError naming the backends tried and how to configure one if none is usable.
    """
    passphrase = read_passphrase(environ)
    if settings.backend == "cryptfile" or (settings.backend == "auto" and passphrase):
        with keyring_lock(lock_path):
            return open_cryptfile(settings.cryptfile_path, passphrase)
    if settings.backend != "auto":
        return _checked(_load(settings.backend), settings.backend)
    explicit = _keyring_own_choice()
    if explicit is not None:
        return explicit
    candidates = backend_candidates()
    for candidate in candidates:
        if candidate.problem is None:
            return _load(candidate.name)
    tried = "; ".join(f"{item.name}: {item.problem}" for item in candidates) or "none installed"
    raise TokenStoreError(
        f"no usable keyring backend (tried {tried}; {CRYPTFILE}: no passphrase given); "
        + HOW_TO_CONFIGURE
    )


def _keyring_own_choice() -> KeyringBackend | None:
    # An operator who set PYTHON_KEYRING_BACKEND or keyringrc.cfg has chosen; honour it if safe.
    try:
        chosen = keyring.core.load_env() or keyring.core.load_config()
    except Exception as error:  # noqa: BLE001 - keyring raises anything for a bad backend name
        raise TokenStoreError(
            f"the keyring backend named by $PYTHON_KEYRING_BACKEND or keyringrc.cfg cannot be "
            f"loaded: {error}"
        ) from None
    return None if chosen is None else _checked(chosen, backend_name(type(chosen)))


def _load(name: str) -> KeyringBackend:
    try:
        return keyring.core.load_keyring(name)
    except Exception as error:  # noqa: BLE001 - a missing module, class or dependency
        raise TokenStoreError(
            f"keyring backend {name!r} cannot be loaded: {error}; " + HOW_TO_CONFIGURE
        ) from None


def _checked(backend: KeyringBackend, name: str) -> KeyringBackend:
    full = backend_name(type(backend))
    if full.startswith(_NEVER_AUTOMATIC[:2]) or full.startswith(_UNSAFE_MODULES):
        raise TokenStoreError(
            f"keyring backend {name!r} cannot keep a secret safely (it stores nothing, or stores "
            "it in plain text); " + HOW_TO_CONFIGURE
        )
    if full in _CRYPTFILES:
        raise TokenStoreError(
            f'use [keyring] backend = "cryptfile" rather than {name!r}, so sfsync can unlock it '
            f"with ${PASSPHRASE_VARIABLE} or the systemd credential without prompting"
        )
    return backend


def open_cryptfile(path: Path | None, passphrase: str | None) -> KeyringBackend:
    """Given the cryptfile's path (None: the library's default) and its passphrase, return
    the backend, unlocked, or the file created. Raise TokenStoreError if the passphrase is
    missing or does not open it, PathError if its folder cannot be made.
    """
    if not passphrase:
        raise TokenStoreError(
            "the cryptfile keyring needs a passphrase and sfsync never prompts for it: put it in "
            f"$CREDENTIALS_DIRECTORY/{PASSPHRASE_CREDENTIAL} (systemd LoadCredential=) or "
            f"${PASSPHRASE_VARIABLE}"
        )
    try:
        # Optional; written atomically, each Argon2 key derived once per process.
        from sfsync.tokens.cryptfile import FastCryptFileKeyring  # noqa: PLC0415
    except ImportError as error:
        raise TokenStoreError(
            f"the cryptfile keyring is not installed ({error}); pip install keyrings.cryptfile"
        ) from None
    backend: KeyringBackend = FastCryptFileKeyring()
    if path is not None:
        try:
            make_private_directories(path.parent)
        except OSError as error:
            raise PathError(
                describe_os_error(
                    path.parent, error, "create the keyring folder ([keyring] cryptfile_path)"
                )
            ) from None
        backend.file_path = str(path)  # type: ignore[attr-defined]
    try:
        # Setting the key unlocks an existing file (checking the passphrase) or creates one:
        # the released package has no other way to take a passphrase without a prompt.
        backend.keyring_key = passphrase  # type: ignore[attr-defined]
    except configparser.Error as error:
        raise unreadable_cryptfile(getattr(backend, "file_path", "?"), error) from None
    except ValueError as error:
        where = getattr(backend, "file_path", "?")
        raise TokenStoreError(
            f"cryptfile keyring {where}: {error} (the passphrase does not open it)"
        ) from None
    except OSError as error:
        where = getattr(backend, "file_path", "?")
        raise PathError(describe_os_error(where, error, "open the cryptfile keyring")) from None
    return backend


def unreadable_cryptfile(path: object, error: configparser.Error) -> TokenStoreError:
    """Given the cryptfile's path and the parser's complaint, return the error to show: one
    line naming the file, the cause, and what to do.
    """
    cause = " ".join(str(error).split())
    return TokenStoreError(
        f"cryptfile keyring {path} is damaged and cannot be read ({type(error).__name__}: "
        f"{cause}); restore it from a backup, or move it aside and run "
        "`sfsync authorize --env ENV --all-systems` again for each environment"
    )
