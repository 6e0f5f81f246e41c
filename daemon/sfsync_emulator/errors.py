"""Errors the emulator's models raise; the views turn each into Salesforce's wire shape."""

from __future__ import annotations


class ApiError(Exception):
    """A REST or Tooling error: Salesforce answers these as `[{"message", "errorCode"}]`."""

    def __init__(
        self, status: int, error_code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields


class OAuthError(Exception):
    """An OAuth endpoint error: Salesforce answers these as `{"error", "error_description"}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


def not_found() -> ApiError:
    """Return the error Salesforce gives for an unknown id or path."""
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> ApiError:
    """Return the error Salesforce gives for an expired or unknown access token."""
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def expired_refresh_token() -> OAuthError:
    """Return Salesforce's answer to a revoked, rotated-out or unknown refresh token."""
    return OAuthError("invalid_grant", "expired access/refresh token")
