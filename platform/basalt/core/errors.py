"""Typed domain errors and the single place that maps them to API.md's JSON error contract."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger("basalt.errors")


class BasaltError(Exception):
    """An error a caller may see: a stable code, an HTTP status, a message and optional details."""

    status = 400
    code = "invalid_operation"
    default_message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        if code:
            self.code = code
        super().__init__(self.message)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class InvalidJson(BasaltError):
    code = "invalid_json"
    default_message = "The request body is not valid JSON."


class ValidationFailed(BasaltError):
    code = "validation_failed"
    default_message = "Some fields are invalid."


def body_object(body: Any) -> dict[str, Any]:
    """A request body that must be a JSON object (`null`, a list or a string is a 400, not "no body":
    a view passes `{}` itself when the body is absent and optional)."""
    if not isinstance(body, dict):
        raise ValidationFailed(details={"body": ["Must be a JSON object."]})
    return body


class InvalidQuery(BasaltError):
    code = "invalid_query"
    default_message = "The query is invalid."


class InvalidOperation(BasaltError):
    code = "invalid_operation"


class Unauthenticated(BasaltError):
    status = 401
    code = "unauthenticated"
    default_message = "Authentication is required."


class InvalidApiKey(Unauthenticated):
    code = "invalid_api_key"
    default_message = "The API key is missing, unknown or revoked."


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    default_message = "The token is invalid."


class TokenExpired(Unauthenticated):
    code = "token_expired"
    default_message = "The token has expired."


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    default_message = "The credentials are not valid."


class PermissionDenied(BasaltError):
    status = 403
    code = "permission_denied"
    default_message = "You are not allowed to do this."


class NotFound(BasaltError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class MethodNotAllowed(BasaltError):
    status = 405
    code = "method_not_allowed"
    default_message = "This method is not allowed here."


class Conflict(BasaltError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class UniqueViolation(Conflict):
    code = "unique_violation"
    default_message = "A document with this value already exists."


class PreconditionFailed(BasaltError):
    status = 412
    code = "precondition_failed"
    default_message = "The document has changed since you read it."


class LengthRequired(BasaltError):
    status = 411
    code = "length_required"
    default_message = "Send this body with a Content-Length."


class PayloadTooLarge(BasaltError):
    status = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class UriTooLong(BasaltError):
    status = 414
    code = "uri_too_long"
    default_message = "The URL is too long; send long queries in a POST body (e.g. a batch request)."


class HeadersTooLarge(BasaltError):
    status = 431
    code = "headers_too_large"
    default_message = "The request headers are too large."


class UnsupportedMediaType(BasaltError):
    status = 415
    code = "unsupported_media_type"
    default_message = "The request body must be JSON."


class RateLimited(BasaltError):
    status = 429
    code = "rate_limited"
    default_message = "Too many requests; retry later."

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})


class Unavailable(BasaltError):
    status = 503
    code = "unavailable"
    default_message = "The service is temporarily unavailable."


def error_response(error: BasaltError) -> Response:
    return Response(error.payload(), status=error.status, headers=error.headers)


def _from_drf(exc: drf.APIException) -> BasaltError:
    if isinstance(exc, drf.ParseError):
        return InvalidJson(str(exc.detail) if exc.detail else None)
    if isinstance(exc, drf.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return ValidationFailed(details=_plain(detail))
    if isinstance(exc, drf.NotAuthenticated):
        return Unauthenticated()
    if isinstance(exc, drf.AuthenticationFailed):
        code = getattr(exc, "get_codes", lambda: None)()
        if code == "token_not_valid" or (isinstance(code, dict) and code.get("code") == "token_not_valid"):
            return InvalidToken()
        return InvalidCredentials()
    if isinstance(exc, drf.PermissionDenied):
        return PermissionDenied()
    if isinstance(exc, drf.NotFound):
        return NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed()
    if isinstance(exc, drf.UnsupportedMediaType):
        return UnsupportedMediaType()
    if isinstance(exc, drf.Throttled):
        return RateLimited(int(exc.wait or 1))
    return BasaltError(str(exc.detail), code="invalid_operation")


def _plain(detail: Any) -> Any:
    """Turn DRF's ErrorDetail trees into plain JSON: field → list of messages."""
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(value) for value in detail]
    return str(detail)


def to_basalt_error(exc: BaseException) -> BasaltError | None:
    """Map any known exception to a BasaltError, or None when it is a genuine server fault."""
    if isinstance(exc, BasaltError):
        return exc
    if isinstance(exc, drf.APIException):
        return _from_drf(exc)
    if isinstance(exc, Http404):
        return NotFound()
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, UnicodeDecodeError):
        return InvalidJson("The request body is not valid UTF-8.")
    if isinstance(exc, ValueError) and "NUL (0x00)" in str(exc):
        # psycopg refuses NUL in text parameters; SQLite stores it. Either way it is bad input.
        return ValidationFailed("Text values cannot contain NUL characters.")
    if isinstance(exc, DataError):
        # Out-of-range numbers or unstorable text reached the database: the input was bad.
        return ValidationFailed("A value cannot be stored (out of range or malformed).")
    if isinstance(exc, OperationalError | InterfaceError):
        return _from_database(exc)
    return None


def database_refusal(exc: BaseException) -> BasaltError | None:
    """What the database (or its driver) refused of a request's input, as the caller's error: a value
    it cannot store, a limit, a statement cancelled for time. None for anything else: an error
    already raised as a BasaltError, an outage or a conflict (which fail a whole transaction), a bug."""
    if not isinstance(exc, DatabaseError | ValueError):  # psycopg refuses NUL with a ValueError
        return None
    mapped = to_basalt_error(exc)
    return mapped if isinstance(mapped, ValidationFailed | InvalidOperation) else None


def _from_database(exc: Exception) -> BasaltError | None:
    """Only an unreachable database is an outage (503); a statement that failed on its input is not."""
    from basalt.core.dberrors import DbFailure, classify

    kind = classify(exc)
    if kind is DbFailure.UNAVAILABLE:
        logger.warning("database unavailable: %s", type(exc).__name__)
        return Unavailable("The database is unavailable; retry shortly.", headers={"Retry-After": "5"})
    if kind is DbFailure.CONFLICT:
        return Conflict("The request collided with a concurrent change; retry it.")
    if kind is DbFailure.TIMEOUT:
        return InvalidOperation("The request took too long and was stopped; ask for less.")
    if kind is DbFailure.LIMIT:
        return InvalidOperation("The request exceeds a limit of the database (a value or expression is too large).")
    return None  # anything else is our fault: a logged 500 with a request id


def drf_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    error = to_basalt_error(exc)
    if error is None:
        return None  # let ApiErrorMiddleware turn it into a logged JSON 500
    response = error_response(error)
    auth_header = getattr(exc, "auth_header", None)
    if error.status == 401 and auth_header:
        # RFC 9110: a 401 names the scheme the client should use.
        response["WWW-Authenticate"] = auth_header
    return response
