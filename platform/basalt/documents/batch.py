"""`/batch`: up to N data-API sub-requests through the very same services, optionally all or nothing."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson
from django.db import transaction
from django.http import QueryDict

from basalt.core.caller import Caller
from basalt.core.errors import BasaltError, MethodNotAllowed, NotFound, ValidationFailed, database_refusal
from basalt.core.json import dumps
from basalt.documents import changefeed, finding, services
from basalt.documents.api.params import query_from_params
from basalt.documents.finding import project_limits
from basalt.documents.query import budget

# Only the documents API: no schema, auth, file or management routes can hide inside a batch.
_PATH = re.compile(
    r"\A(?:/api/v1)?/collections/(?P<name>[^/?#]+)/(?P<kind>documents|query)(?:/(?P<doc_id>[^/?#]+))?/?\Z"
)
FIND_PARAMS = frozenset({"where", "order", "limit", "cursor", "fields", "expand", "count"})
REQUEST_KEYS = frozenset({"method", "path", "body"})
T = TypeVar("T")
R = TypeVar("R")


class _Abort(Exception):
    """Carries the failing sub-request out of the transaction so everything rolls back."""

    def __init__(self, index: int, error: BasaltError):
        self.index, self.error = index, error


def _dispatch(caller: Caller, request: Any) -> tuple[int, Any, bool]:
    """Run one sub-request: its status, its body, and whether it only read."""
    if not isinstance(request, dict) or set(request) - REQUEST_KEYS:
        raise ValidationFailed(details={"request": ['Must be {"method", "path", "body"}.']})
    method, path, body = request.get("method"), request.get("path"), request.get("body")
    if not isinstance(method, str) or not isinstance(path, str) or len(path) > 8192:
        raise ValidationFailed(details={"request": ["`method` and `path` are strings."]})
    parts = urlsplit(path)
    match = _PATH.match(parts.path)
    if match is None:
        raise NotFound("Batch requests may only address /api/v1/collections/… documents and queries.")
    name, kind, doc_id = match.group("name"), match.group("kind"), match.group("doc_id")
    method = method.upper()
    if kind == "query":
        if doc_id is not None or method != "POST":
            raise MethodNotAllowed()
        return 200, finding.find_documents(caller, name, body if body is not None else {}), True
    if doc_id is None:
        if method == "POST":
            return 201, services.create_document(caller, name, body).body, False
        if method == "GET":
            query = query_from_params(QueryDict(parts.query), FIND_PARAMS)
            return 200, finding.find_documents(caller, name, query), True
        raise MethodNotAllowed()
    if method == "GET":
        return 200, services.get_document(caller, name, doc_id).body, True
    if method == "PATCH":
        return 200, services.update_document(caller, name, doc_id, body).body, False
    if method == "DELETE":
        services.delete_document(caller, name, doc_id)
        return 204, None, False
    raise MethodNotAllowed()


def _answer(caller: Caller, request: Any, allowance: budget.Allowance) -> dict[str, Any]:
    """One sub-request's `{status, body}`, its body serialised once and charged to the batch."""
    status, body, read = _dispatch(caller, request)
    encoded = dumps(body)
    if read:
        allowance.spend(len(encoded))
    else:
        # A write that happened is reported as done: its (small) body is counted, never refused.
        allowance.bytes_left -= len(encoded)
    return {"status": status, "body": orjson.Fragment(encoded)}


def run_batch(caller: Caller, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict) or set(payload) - {"transaction", "requests"}:
        raise ValidationFailed(details={"body": ['Must be {"transaction": bool, "requests": [...]}.']})
    atomic = payload.get("transaction", False)
    requests = payload.get("requests")
    limit = project_limits(caller.project)["max_batch_requests"]
    if not isinstance(atomic, bool):
        raise ValidationFailed(details={"transaction": ["Must be true or false."]})
    if not isinstance(requests, list) or not 1 <= len(requests) <= limit:
        raise ValidationFailed(details={"requests": [f"A list of 1 to {limit} requests."]})
    # One deadline and one byte allowance for the whole batch: 100 finds may not each take a find's.
    with budget.batch() as allowance:
        if not atomic:
            return {"results": _run_each(caller, requests, allowance)}
        try:
            with changefeed.write_transaction():
                results = []
                for index, request in enumerate(requests):
                    try:
                        results.append(_answer(caller, request, allowance))
                    except BasaltError as error:
                        raise _Abort(index, error) from None
        except _Abort as abort:
            # Nothing was written: answer with the failing request's own error and where it was.
            error = abort.error
            error.details = {**(error.details or {}), "index": abort.index}
            raise error from None
        return {"results": results}


def _run_each(caller: Caller, requests: list[Any], allowance: budget.Allowance) -> list[dict[str, Any]]:
    """A loose batch of data-API sub-requests (`run_loose`): a read gets a savepoint of its own,
    because on PostgreSQL a find cancelled for time fails the transaction it runs in."""
    bytes_left = allowance.bytes_left

    def answer(request: Any) -> dict[str, Any]:
        return _answer(caller, request, allowance)

    def failed(error: Exception) -> dict[str, Any] | None:
        return {"status": error.status, "body": error.payload()} if isinstance(error, BasaltError) else None

    def again() -> None:  # a second pass spends the batch's byte allowance afresh
        allowance.bytes_left = bytes_left

    return run_loose(requests, answer, failed, guarded=_reads, restart=again)


def run_loose(
    items: Sequence[T],
    run: Callable[[T], R],
    failed: Callable[[Exception], R | None],
    *,
    guarded: Callable[[T], bool],
    restart: Callable[[], None] = lambda: None,
) -> list[R]:
    """A loose batch (the data API's and the Parse face's): each item succeeds or fails on its own,
    as if sent alone, but all of them commit together (one commit and one change-log numbering for
    the batch, not one per write).

    `run` answers an item; `failed` answers an item's error (a BasaltError, a face's own, or what
    the database refused of the item, as `core.errors.database_refusal` maps it) or returns None to
    fail the whole batch, with nothing of it written, as a database failure (not a refusal) does.
    An item runs in a savepoint when `guarded` says so. Any other item is one service call whose
    writes are a savepoint of their own or one statement the database is not expected to refuse
    (`services.create_document`); if it refuses one anyway, PostgreSQL has failed the transaction,
    so the batch is rolled back and run again (`restart` first) with a savepoint around every
    item: only that item fails, and nothing of it is written."""
    try:
        return _loose_pass(items, run, failed, guarded)
    except _Refused:
        restart()
        return _loose_pass(items, run, failed, lambda item: True)


class _Refused(Exception):
    """An item without a savepoint was refused by the database: the transaction is spent."""


def _loose_pass(
    items: Sequence[T], run: Callable[[T], R], failed: Callable[[Exception], R | None], guarded: Callable[[T], bool]
) -> list[R]:
    results = []
    with changefeed.write_transaction():
        for item in items:
            savepoint = guarded(item)
            try:
                with transaction.atomic() if savepoint else nullcontext():
                    results.append(run(item))
            except Exception as exc:
                error: Exception = exc
                refused = database_refusal(exc)
                if refused is not None:
                    if not savepoint:
                        raise _Refused from exc
                    error = refused
                answer = failed(error)
                if answer is None:
                    raise
                results.append(answer)
    return results


def _reads(request: Any) -> bool:
    """A GET or a `/query` find, by the same path rule `_dispatch` routes with (a request it will
    refuse runs no statement, so needs no savepoint either way)."""
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        return False
    path = request.get("path")
    match = _PATH.match(urlsplit(path).path) if isinstance(path, str) else None
    return request["method"].upper() == "GET" or (match is not None and match.group("kind") == "query")
