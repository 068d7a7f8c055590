"""Typed errors mapped from the API's JSON error contract: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

import httpx


class BasaltError(Exception):
    """Any error answer of the API; `code` is the contract's machine-readable code (API.md §1)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        details: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details: dict[str, Any] = details or {}
        self.request_id = request_id
        self.retry_after = retry_after


class InvalidRequestError(BasaltError):
    """400: invalid_json, validation_failed, invalid_query, invalid_operation."""


class ValidationFailedError(InvalidRequestError):
    """400 validation_failed: `details` maps each field to its messages."""


class IdempotencyKeyReusedError(InvalidRequestError):
    """422: the Idempotency-Key was already used with a different request."""


class InvalidQueryError(InvalidRequestError):
    """400 invalid_query."""


class AuthenticationError(BasaltError):
    """401: invalid_api_key, unauthenticated, invalid_token, token_expired, invalid_credentials."""


class TokenExpiredError(AuthenticationError):
    """401 token_expired: refresh the access token and retry."""


class MfaRequiredError(AuthenticationError):
    """401 mfa_required: finish the sign-in with `Client.verify_mfa(error.mfa_token, code)`."""

    @property
    def mfa_token(self) -> str:
        return str(self.details.get("mfa_token", ""))

    @property
    def methods(self) -> list[str]:
        return list(self.details.get("methods") or [])


class PermissionDeniedError(BasaltError):
    """403."""


class NotFoundError(BasaltError):
    """404: also for a document the caller may not read."""


class ConflictError(BasaltError):
    """409 conflict."""


class UniqueViolationError(ConflictError):
    """409 unique_violation: `details` names the field."""


class PreconditionFailedError(BasaltError):
    """412: the If-Match ETag no longer matches (someone else changed the document)."""


class PayloadTooLargeError(BasaltError):
    """413."""


class RateLimitedError(BasaltError):
    """429: `retry_after` seconds until the next attempt may succeed."""


class UnavailableError(BasaltError):
    """503: the server or its database is briefly unavailable; `retry_after` says when to retry."""


BY_CODE: dict[str, type[BasaltError]] = {
    "validation_failed": ValidationFailedError,
    "invalid_query": InvalidQueryError,
    "token_expired": TokenExpiredError,
    "unique_violation": UniqueViolationError,
    "idempotency_key_reused": IdempotencyKeyReusedError,
    "mfa_required": MfaRequiredError,
}
BY_STATUS: dict[int, type[BasaltError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    413: PayloadTooLargeError,
    429: RateLimitedError,
    503: UnavailableError,
}


def error_from_body(status: int, body: Any, headers: httpx.Headers | None = None) -> BasaltError:
    """Build the typed error for an error answer (also a batch sub-result's status and body)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code, message = error["code"], str(error.get("message", ""))
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
    else:
        # Not the contract (e.g. an HTML page from a proxy in front of Basalt): keep the status.
        code, message, details = f"http_{status}", "Unexpected response from the server.", {}
    cls = BY_CODE.get(code) or BY_STATUS.get(status) or BasaltError
    retry_after = None
    request_id = None
    if headers is not None:
        request_id = headers.get("X-Request-Id")
        try:
            retry_after = float(headers["Retry-After"]) if "Retry-After" in headers else None
        except ValueError:
            retry_after = None
    return cls(code, message, status, details, request_id=request_id, retry_after=retry_after)


def error_from_response(response: httpx.Response) -> BasaltError:
    try:
        body = response.json()
    except ValueError:
        body = None
    return error_from_body(response.status_code, body, response.headers)
