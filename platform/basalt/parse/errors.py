"""Parse error codes and the one place that maps Basalt's domain errors onto them."""

from __future__ import annotations

from typing import Any

from basalt.core import errors as basalt

# Parse.Error codes this face answers with (Parse Server's src/ParseError names in comments).
INTERNAL = 1  # INTERNAL_SERVER_ERROR
OBJECT_NOT_FOUND = 101
INVALID_QUERY = 102
INVALID_CLASS_NAME = 103
MISSING_OBJECT_ID = 104
INVALID_KEY_NAME = 105
INVALID_POINTER = 106
INVALID_JSON = 107
COMMAND_UNAVAILABLE = 108
INCORRECT_TYPE = 111
INVALID_CHANNEL_NAME = 112
OBJECT_TOO_LARGE = 116
OPERATION_FORBIDDEN = 119
INVALID_NESTED_KEY = 121
INVALID_FILE_NAME = 122
INVALID_ACL = 123
TIMEOUT = 124
INVALID_EMAIL_ADDRESS = 125
DUPLICATE_VALUE = 137
INVALID_ROLE_NAME = 139
SCRIPT_FAILED = 141
VALIDATION_ERROR = 142
FILE_DELETE_ERROR = 153
REQUEST_LIMIT_EXCEEDED = 155
USERNAME_MISSING = 200
PASSWORD_MISSING = 201
USERNAME_TAKEN = 202
EMAIL_TAKEN = 203
EMAIL_MISSING = 204
EMAIL_NOT_FOUND = 205
SESSION_MISSING = 206
MUST_CREATE_USER_THROUGH_SIGNUP = 207
ACCOUNT_ALREADY_LINKED = 208
INVALID_SESSION_TOKEN = 209
UNSUPPORTED_SERVICE = 252


class ParseError(Exception):
    """An error in Parse's shape: `{"code": n, "error": "text"}`, HTTP 400 unless Parse says otherwise."""

    def __init__(self, code: int, message: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        # Parse Server answers 404 for 101, 500 for 1 and 400 for every other Parse.Error.
        self.status = status or (404 if code == OBJECT_NOT_FOUND else 400)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "error": self.message}


class Unauthorized(Exception):
    """Wrong application id or key: Parse answers 403 `{"error": "unauthorized"}` with no code."""


def _first_detail(error: basalt.BasaltError) -> str:
    details = error.details or {}
    for field, messages in details.items():
        if isinstance(messages, list) and messages:
            return f"{field}: {messages[0]}"
    return error.message


def from_basalt(error: basalt.BasaltError, class_name: str | None = None) -> ParseError:
    """Translate a domain error; field names in messages are Basalt's (the face renames them back
    where it knows them), which only matters to apps reading the text, not the code."""
    if isinstance(error, basalt.NotFound):
        return ParseError(OBJECT_NOT_FOUND, "Object not found.")
    if isinstance(error, basalt.InvalidCredentials):
        return ParseError(OBJECT_NOT_FOUND, "Invalid username/password.")
    if isinstance(error, basalt.InvalidApiKey):
        return ParseError(OPERATION_FORBIDDEN, "unauthorized", 403)
    if isinstance(error, basalt.Unauthenticated):
        return ParseError(INVALID_SESSION_TOKEN, "Invalid session token")
    if isinstance(error, basalt.PermissionDenied):
        return ParseError(OPERATION_FORBIDDEN, error.message)
    if isinstance(error, basalt.UniqueViolation):
        fields = set(error.details or {})
        if "username" in fields:
            return ParseError(USERNAME_TAKEN, "Account already exists for this username.")
        if "email" in fields:
            return ParseError(EMAIL_TAKEN, "Account already exists for this email address.")
        return ParseError(DUPLICATE_VALUE, "A duplicate value for a field with unique values was provided")
    if isinstance(error, basalt.InvalidJson):
        return ParseError(INVALID_JSON, "Invalid JSON")
    if isinstance(error, basalt.InvalidQuery):
        return ParseError(INVALID_QUERY, _first_detail(error))
    if isinstance(error, basalt.RateLimited):
        return ParseError(REQUEST_LIMIT_EXCEEDED, "Too many requests.", 429)
    if isinstance(error, basalt.PayloadTooLarge):
        return ParseError(OBJECT_TOO_LARGE, "The request is too large.")
    if isinstance(error, basalt.Unavailable):
        return ParseError(TIMEOUT, "The service is unavailable, try again shortly.", 503)
    if isinstance(error, basalt.ValidationFailed):
        details = error.details or {}
        if "password" in details:
            return ParseError(VALIDATION_ERROR, _first_detail(error))
        if "email" in details:
            return ParseError(INVALID_EMAIL_ADDRESS, "The email address was invalid.")
        if "custom" in details:  # an installation's app-defined fields past their bounds (push/custom.py)
            return ParseError(OBJECT_TOO_LARGE, _first_detail(error))
        if any("Unknown field" in str(m) for m in details.values()):
            field = next(k for k, m in details.items() if "Unknown field" in str(m))
            return ParseError(
                OPERATION_FORBIDDEN, f"Permission denied for action addField on class {class_name or '?'}: {field}."
            )
        return ParseError(INCORRECT_TYPE, _first_detail(error))
    if isinstance(error, basalt.InvalidOperation):
        return ParseError(INCORRECT_TYPE, _first_detail(error))
    if isinstance(error, basalt.Conflict):
        return ParseError(DUPLICATE_VALUE, error.message)
    if isinstance(error, basalt.MethodNotAllowed):
        return ParseError(INVALID_JSON, "This method is not allowed here.", 405)
    return ParseError(INCORRECT_TYPE if error.status < 500 else INTERNAL, error.message, 400)
