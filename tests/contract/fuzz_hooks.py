"""Schemathesis hooks for the fuzz run (loaded through SCHEMATHESIS_HOOKS): Basalt-specific leak checks.

BASALT_FUZZ_HIDDEN: comma list of field names the caller may not read; no 2xx body may carry them as keys.
BASALT_FUZZ_FOREIGN: comma list of another project's ids; no body may contain them anywhere.
BASALT_FUZZ_SPEC: the OpenAPI document under test, to tell deliberate null-leniency from real violations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import schemathesis
from jsonschema import Draft202012Validator
from schemathesis.core.failures import AcceptedNegativeData


def _env_set(name: str) -> frozenset[str]:
    return frozenset(part for part in os.environ.get(name, "").split(",") if part)


HIDDEN = _env_set("BASALT_FUZZ_HIDDEN")
FOREIGN = _env_set("BASALT_FUZZ_FOREIGN")


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair and bare string in a JSON value; keys are '' for list items."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield "", item
            yield from _walk(item)


def _body(response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


@schemathesis.check
def no_hidden_fields(ctx, response, case) -> bool | None:
    """A field protected from the caller never appears in a successful response."""
    if not HIDDEN or not 200 <= response.status_code < 300:
        return None
    leaked = {key for key, _ in _walk(_body(response)) if key in HIDDEN}
    if leaked:
        raise AssertionError(f"Protected field(s) {sorted(leaked)} returned to a caller who may not read them")
    return None


@schemathesis.check
def no_foreign_ids(ctx, response, case) -> bool | None:
    """Nothing of another project (its document ids, its ref) ever reaches this project's caller."""
    if not FOREIGN:
        return None
    text = (response.content or b"").decode("utf-8", "replace")
    found = {value for value in FOREIGN if value in text}
    if found:
        raise AssertionError(f"Another project's id(s) {sorted(found)} in the response")
    return None


def _create_schema(operation_label: str) -> dict[str, Any] | None:
    """The request-body schema of a `POST …/documents` create, resolvable against the document's components."""
    path = os.environ.get("BASALT_FUZZ_SPEC")
    method, _, route = operation_label.partition(" ")
    if not path or method != "POST" or not route.endswith("/documents"):
        return None
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    body = document["paths"].get(route, {}).get("post", {}).get("requestBody", {})
    ref = body.get("content", {}).get("application/json", {}).get("schema")
    return {**ref, "components": document["components"]} if ref else None


@schemathesis.hook
def filter_failure(ctx, failure, case, response) -> bool:
    """Keep every failure except a create accepted only because optional fields were null, and the
    contract's 503 `unavailable` when the shared PostgreSQL had no connection left (see below).

    API.md: a null field in a create means "not given" (default applies, required still refused); the
    document keeps the plain types so generated clients stay typed. Anything else wrong in the same body
    still fails: the body without its nulls must itself be schema-valid for the failure to be dropped.
    """
    if _database_overloaded(response):
        return False
    if not isinstance(failure, AcceptedNegativeData) or not isinstance(case.body, dict):
        return True
    if not any(value is None for value in case.body.values()):
        return True
    schema = _create_schema(failure.operation)
    if schema is None:
        return True
    without_nulls = {key: value for key, value in case.body.items() if value is not None}
    return not Draft202012Validator(schema).is_valid(without_nulls)


def _database_overloaded(response) -> bool:
    """A 503 `unavailable` with Retry-After: the database refused a connection (API.md §1).

    The fuzzer sends one request at a time, so Basalt itself cannot exhaust PostgreSQL; on a machine
    shared with other test runs the server can still meet "too many clients" and must answer exactly
    this. Any other 5xx, or a 503 without the contract's code and Retry-After, still fails the run.
    """
    if response.status_code != 503 or "retry-after" not in {name.lower() for name in response.headers}:
        return False
    body = _body(response)
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("code") == "unavailable"
