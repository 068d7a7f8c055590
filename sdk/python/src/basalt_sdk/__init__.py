"""Basalt Python SDK: `Client(url, api_key).collection("posts").create({...})`."""

from basalt_sdk import ops, webhooks
from basalt_sdk.client import Client
from basalt_sdk.collection import Collection
from basalt_sdk.errors import (
    AuthenticationError,
    BasaltError,
    ConflictError,
    IdempotencyKeyReusedError,
    InvalidQueryError,
    InvalidRequestError,
    MfaRequiredError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitedError,
    TokenExpiredError,
    UnavailableError,
    UniqueViolationError,
    ValidationFailedError,
)
from basalt_sdk.management import Management, TransferFailed
from basalt_sdk.models import BatchRequest, BatchResult, Document, Page

__all__ = [
    "AuthenticationError",
    "BasaltError",
    "BatchRequest",
    "BatchResult",
    "Client",
    "Collection",
    "ConflictError",
    "Document",
    "IdempotencyKeyReusedError",
    "InvalidQueryError",
    "InvalidRequestError",
    "Management",
    "MfaRequiredError",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "RateLimitedError",
    "TokenExpiredError",
    "TransferFailed",
    "UnavailableError",
    "UniqueViolationError",
    "ValidationFailedError",
    "ops",
    "webhooks",
]
