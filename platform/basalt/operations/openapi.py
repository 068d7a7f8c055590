"""The `Idempotency-Key` header in the OpenAPI documents (API.md §12): on every mutating data-API
operation the middleware honours, with its `422 idempotency_key_reused` answer."""

from __future__ import annotations

from typing import Any

from basalt.core.middleware import STREAMED_BODY_PREFIXES
from basalt.operations.idempotency import DATA_API, MAX_KEY, NOT_DATA_API

MUTATING = ("post", "put", "patch", "delete")
PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "A unique string for this change. A repeat within 24 hours with the same key and body gets the "
        "first answer again (with `Idempotent-Replayed: true`) instead of a second change; the same key "
        "with another body is `422 idempotency_key_reused`."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
}
REF = {"$ref": "#/components/parameters/IdempotencyKey"}


def applies(path: str) -> bool:
    return (
        path.startswith(DATA_API) and not path.startswith(NOT_DATA_API) and not path.startswith(STREAMED_BODY_PREFIXES)
    )


def decorate(paths: dict[str, Any]) -> dict[str, Any]:
    """Add the header and its 422 to the mutating operations of `paths`; returns the components to add."""
    for path, item in paths.items():
        if not applies(path):
            continue
        for method in MUTATING:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            parameters = operation.setdefault("parameters", [])
            if REF not in parameters:
                parameters.append(REF)
            operation.setdefault("responses", {}).setdefault(
                "422",
                {
                    "description": "The Idempotency-Key was used with another request (idempotency_key_reused)",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            )
    return {"IdempotencyKey": PARAMETER}
