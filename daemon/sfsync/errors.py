"""The one error tree of sfsync and the exit status each branch maps to.

Every error sfsync raises on purpose is an `SfsyncError`. Its message is one line that names
what went wrong and where (file, key, entry, connector or URL) and, where it helps, what to do.
`cli.main` is the only place that turns these into output and an exit code.
"""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitStatus(IntEnum):
    """The documented exit codes (SPEC section 5)."""

    OK = 0
    FAILURE = 1  # a push or a check failed
    USAGE = 2  # usage, config or package error
    NEEDS_AUTHORIZATION = 3  # a connector needs (re)authorization, or no keyring is usable
    INTERRUPTED = 130  # SIGINT (Ctrl-C), after printing what was done


class SfsyncError(Exception):
    """Root of every error sfsync raises on purpose."""

    exit_status: ExitStatus = ExitStatus.FAILURE
    # Lines printed as they are after the error's one line (e.g. what the user may pick from).
    listing: tuple[str, ...] = ()


class UsageError(SfsyncError):
    """The command line asked for something that cannot be (an unknown connector, say)."""

    exit_status = ExitStatus.USAGE


class ConfigError(SfsyncError):
    """The configuration file is missing, unreadable or invalid."""

    exit_status = ExitStatus.USAGE


class PathError(SfsyncError):
    """A file or folder sfsync was pointed at (an output path, the state_dir, the keyring file)
    cannot be created, read or written: a missing folder, a permission, a full disk.
    """

    exit_status = ExitStatus.USAGE


class PackageError(SfsyncError):
    """A published package was refused; `entry` names the offending archive entry, if any."""

    exit_status = ExitStatus.USAGE

    def __init__(self, message: str, *, entry: str | None = None) -> None:
        super().__init__(message)
        self.entry = entry


class SourceError(SfsyncError):
    """A source (drop folder or URL) could not be read."""


class NothingPublishedError(SourceError):
    """A source has no complete package yet (empty, or still settling).

    `build` fails on it; a sync cycle reports the system as waiting, which is not a failure.
    """


class SalesforceError(SfsyncError):
    """Salesforce answered with an error, or could not be reached."""


class AuthorizationError(SalesforceError):
    """A connector must be (re)authorized: no token, or the refresh token was refused."""

    exit_status = ExitStatus.NEEDS_AUTHORIZATION


class OAuthServerError(SalesforceError):
    """An OAuth endpoint failed in a way that may pass: a 5xx, or an answer that is not JSON."""


class SalesforceUnreachableError(SalesforceError):
    """Salesforce could not be reached: DNS, connection refused or reset, TLS, or a timeout."""


class ApiError(SalesforceError):
    """A REST, Tooling or Metadata call failed."""


class UnsupportedApiVersionError(ApiError):
    """The org does not serve the configured API version: a config change mends it."""

    exit_status = ExitStatus.USAGE


class DeployError(ApiError):
    """A Metadata deploy finished as failed."""


class TokenStoreError(SfsyncError):
    """No usable keyring backend, or the keyring refused a read or write."""

    exit_status = ExitStatus.NEEDS_AUTHORIZATION


class StateError(SfsyncError):
    """The local state store could not be read or written."""


class StateDirectoryError(StateError, PathError):
    """The state_dir (or a file sfsync creates in it) cannot be created or opened."""

    exit_status = ExitStatus.USAGE


class StateDirectoryHeldError(StateError):
    """Another `sfsync run` holds the state_dir (SPEC sections 5 and 10)."""

    exit_status = ExitStatus.USAGE


def describe_os_error(path: object, error: OSError, doing: str) -> str:
    """Given a path, the OSError met there and what sfsync was doing ("write the ZIP"), return
    one line naming the path, the cause and what to do about it.
    """
    cause = error.strerror or str(error) or type(error).__name__
    advice = {
        errno.ENOENT: "create its folder or choose another path",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EACCES: "give the user running sfsync access, or choose another path",
        errno.EPERM: "give the user running sfsync access, or choose another path",
        errno.EROFS: "the file system is read-only; choose another path",
        errno.ENOSPC: "free some space on that disk",
        errno.EDQUOT: "free some space (the disk quota is used up)",
        errno.EISDIR: "it is a folder; give a file name",
    }.get(error.errno or 0, "check the path and the disk")
    return f"{path}: cannot {doing}: {cause}; {advice}"
