"""`Idempotency-Key` on mutating data-API requests (API.md §12, SECURITY.md T23).

The first request with a key claims it (a unique row, committed before the handler runs); it runs
and its answer is stored. A repeat with the same request waits for that answer and gets it back
with `Idempotent-Replayed: true`; a repeat with another query or body is `422
idempotency_key_reused`. The route's authentication answers first: a request whose API key or
bearer token does not resolve is passed to the route untouched (its 401), and only an
authenticated request's key is checked (a malformed one is `400 validation_failed`). Keys are
scoped to the credentials that sent them (API key and bearer token) and to the operation (method
and path), kept 24 hours. Answers that say "try again" (401, 429, 5xx) are not kept: the key is
released so the client's retry runs. A claim whose process died is taken over after LEASE_SECONDS.
Known limit: a crash between the handler's commit and storing its answer lets a retry after the
lease run the write again (the answer is not in the write's transaction).
"""

from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager
from datetime import timedelta

import orjson
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils import timezone

from basalt.core.caller import Caller
from basalt.core.errors import BasaltError, Conflict, ValidationFailed
from basalt.core.middleware import STREAMED_BODY_PREFIXES, json_error
from basalt.operations.models import IdempotencyRecord
from basalt.projects.caller import resolve_caller

HEADER = "HTTP_IDEMPOTENCY_KEY"
REPLAYED = "Idempotent-Replayed"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DATA_API = "/api/v1/"
NOT_DATA_API = ("/api/v1/manage/",)
MAX_KEY = 255
KEEP = timedelta(hours=24)
LEASE_SECONDS = 60
WAIT_SECONDS = 20.0
POLL_SECONDS = 0.02
KEPT_HEADERS = ("Content-Type", "Location", "ETag")
NOT_KEPT_STATUSES = frozenset({401, 408, 429})


class KeyReused(BasaltError):
    status = 422
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used with a different request; use a new key for a new request."


def applies(request: HttpRequest) -> bool:
    return (
        HEADER in request.META
        and request.method in MUTATING
        and request.path.startswith(DATA_API)
        and not request.path.startswith(NOT_DATA_API)
        and not request.path.startswith(STREAMED_BODY_PREFIXES)
    )


def _route_serves(request: HttpRequest) -> bool:
    """A path no route serves (404) or a method its route refuses (405) gets the route's own answer,
    never a replay or `idempotency_key_reused` for a request that could not have changed anything.
    Asked only when the key is malformed or already held: a first request is not resolved twice;
    its claim is released afterwards instead when no route served it (`_changed_nothing`)."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return _serves(match, request.method)


def _serves(match: ResolverMatch, method: str | None) -> bool:
    allowed = getattr(match.func, "allowed_methods", None)  # documents.api.base.endpoint views, api_not_found
    if allowed is None:
        view_class = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)  # DRF, Django
        if view_class is None:
            return True  # a plain function view decides for itself; the key applies
        allowed = {name.upper() for name in view_class.http_method_names if hasattr(view_class, name)}
    return method in allowed


def _changed_nothing(request: HttpRequest, response: HttpResponse) -> bool:
    """No route served the request (Django leaves the match it resolved on the request) or it refused the method."""
    match = getattr(request, "resolver_match", None)
    return match is None or response.status_code == 405 or not _serves(match, request.method)


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _key(request: HttpRequest) -> str:
    key = request.META[HEADER]
    if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            details={"Idempotency-Key": [f"1 to {MAX_KEY} printable ASCII characters (a UUID is a good key)."]}
        )
    return key


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status_code)
    for name, value in record.headers.items():
        response[name] = value
    response[REPLAYED] = "true"
    return response


@contextmanager
def _bookkeeping():
    """A transaction for the key's own rows that does not wait for the disk on PostgreSQL (two flushes
    per keyed write were most of the header's cost). Safe: the handler's write commits synchronously
    after the claim, and that flush carries the claim with it (the log is one sequence); an answer
    lost in a crash is the known limit above (the lease runs out and the retry runs)."""
    outer = connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


# PostgreSQL: the claim and the answer are one autocommitted statement each (one round trip, no
# BEGIN/COMMIT of their own), relaxing their own commit's flush from inside the statement:
# set_config(..., true) lasts to the end of the statement's implicit transaction, whose commit
# reads it. The project is set at the claim, so the answer's UPDATE changes no indexed column and
# stays a HOT update (the table keeps room in its pages for it: migration 0003).
_PG_CLAIM = (
    "INSERT INTO basalt_idempotency_record (scope, fingerprint, project_id, state, lease_until, headers, body, "
    "created_at) SELECT %s, %s, %s, %s, %s, '{}'::jsonb, ''::bytea, %s "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) r ON CONFLICT (scope) DO NOTHING RETURNING id"
)
_PG_SETTLE = (
    "UPDATE basalt_idempotency_record SET state = %s, status_code = %s, headers = %s::jsonb, body = %s "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) r WHERE id = %s"
)


def _fast_path() -> bool:
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _claim(scope: str, fingerprint: str, project_id: int) -> int | None:
    """The new claim's id, or None when a row for this scope already exists."""
    now = timezone.now()
    lease = now + timedelta(seconds=LEASE_SECONDS)
    if _fast_path():
        with connection.cursor() as cursor:
            cursor.execute(_PG_CLAIM, [scope, fingerprint, project_id, IdempotencyRecord.RUNNING, lease, now])
            row = cursor.fetchone()
        return None if row is None else row[0]
    try:
        with _bookkeeping():
            return IdempotencyRecord.objects.create(
                scope=scope, fingerprint=fingerprint, project_id=project_id, lease_until=lease
            ).id
    except IntegrityError:
        return None


def _take_over(record: IdempotencyRecord) -> bool:
    """Take a claim whose holder's lease ran out (its process died), or an expired answer."""
    now = timezone.now()
    stale = IdempotencyRecord.objects.filter(id=record.id, lease_until=record.lease_until, state=record.state)
    return bool(
        stale.update(
            state=IdempotencyRecord.RUNNING, lease_until=now + timedelta(seconds=LEASE_SECONDS), created_at=now
        )
    )


def _settle(request: HttpRequest, record_id: int, response: HttpResponse) -> None:
    caller = getattr(request, "caller", None)
    status = response.status_code
    if (
        caller is None
        or status >= 500
        or status in NOT_KEPT_STATUSES
        or response.streaming
        or _changed_nothing(request, response)
    ):
        IdempotencyRecord.objects.filter(id=record_id).delete()  # the retry runs for real
        return
    headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
    if _fast_path():
        values = [IdempotencyRecord.DONE, status, orjson.dumps(headers).decode(), response.content, record_id]
        with connection.cursor() as cursor:
            cursor.execute(_PG_SETTLE, values)
        return
    with _bookkeeping():
        IdempotencyRecord.objects.filter(id=record_id).update(
            state=IdempotencyRecord.DONE, status_code=status, headers=headers, body=response.content
        )


def _authenticated(request: HttpRequest) -> Caller | None:
    """The caller, when it resolves (API key, bearer token): only then does the key apply. Otherwise
    the route answers for itself (its 401), whatever the header holds: a key is scoped to the
    credentials that sent it, and a request without valid ones must not learn about keys (422)
    before being refused."""
    try:
        return resolve_caller(request)
    except BasaltError:
        return None


def handle(request: HttpRequest, get_response) -> HttpResponse:
    """Run the request at most once per key; repeats get the first answer."""
    caller = _authenticated(request)
    if caller is None:
        return get_response(request)
    try:
        key = _key(request)
    except BasaltError as error:
        if not _route_serves(request):  # a route that could change nothing answers first (its 404, 405)
            return get_response(request)
        return json_error(error)
    meta = request.META
    # A key is scoped to the credentials and the operation (method + path): a stored answer is only
    # ever replayed or compared for a request its route has already authenticated (401s are not
    # kept), so a request to another route always gets that route's own answer first (its 401).
    scope = _digest(
        meta.get("HTTP_X_API_KEY", "").encode(),
        meta.get("HTTP_AUTHORIZATION", "").encode(),
        (request.method or "").encode(),
        request.path.encode(),
        key.encode(),
    )
    # The body's media type is part of the request: the same bytes sent as text/plain (refused 415,
    # and kept) and then as JSON are two requests, so the second is 422, never a replayed 415.
    fingerprint = _digest(
        (request.method or "").encode(),
        request.path.encode(),
        meta.get("QUERY_STRING", "").encode(),
        meta.get("CONTENT_TYPE", "").encode(),
        request.body,
    )
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        record_id = _claim(scope, fingerprint, caller.project.id)
        if record_id is not None:
            break
        existing = IdempotencyRecord.objects.filter(scope=scope).first()
        if existing is None:
            continue  # released a moment ago (the first answer was not kept): claim again
        if not _route_serves(request):
            return get_response(request)
        now = timezone.now()
        if existing.created_at < now - KEEP or (existing.state == existing.RUNNING and existing.lease_until < now):
            if _take_over(existing):
                existing.fingerprint = fingerprint
                IdempotencyRecord.objects.filter(id=existing.id).update(fingerprint=fingerprint)
                record_id = existing.id
                break
            continue
        if existing.fingerprint != fingerprint:
            return json_error(KeyReused())
        if existing.state == existing.DONE:
            return _replay(existing)
        if time.monotonic() > deadline:
            return json_error(
                Conflict(
                    "A request with this Idempotency-Key is still running; retry shortly.", headers={"Retry-After": "1"}
                )
            )
        time.sleep(POLL_SECONDS)
    try:
        response = get_response(request)
    except BaseException:
        IdempotencyRecord.objects.filter(id=record_id).delete()
        raise
    _settle(request, record_id, response)
    return response


class IdempotencyMiddleware:
    """The one call site in the request path: only requests carrying `Idempotency-Key` do any work here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not applies(request):
            return self.get_response(request)
        return handle(request, self.get_response)


def purge_expired() -> int:
    """Delete records past their 24 hours, a batch at a time (no long lock)."""
    return delete_in_batches(IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEEP))


def delete_in_batches(rows, batch: int = 1000) -> int:
    """Delete the queryset's rows a batch at a time, so no purge holds a long lock; returns how many."""
    removed = 0
    while True:
        ids = list(rows.values_list("id", flat=True)[:batch])
        if not ids:
            return removed
        removed += rows.model.objects.filter(id__in=ids).delete()[0]


# --- the OpenAPI declaration ------------------------------------------------------------------

HEADER_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retried write happen once: a repeat with the same key and request (same credentials) replays "
        "the first answer with `Idempotent-Replayed: true`; another request with the key is 422 "
        "`idempotency_key_reused`; a repeat while the first runs waits, then 409. Kept 24 hours."
    ),
    # What _key accepts: 1-255 printable ASCII characters.
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY, "pattern": "^[ -~]+$"},
}


def declares_header(path: str, method: str) -> bool:
    """The operations the middleware honours the header on (see applies(); routes are in the document)."""
    return (
        method.upper() in MUTATING
        and path.startswith(DATA_API)
        and not path.startswith(NOT_DATA_API)
        and not path.startswith(STREAMED_BODY_PREFIXES)
    )


def declare_in_openapi(document: dict) -> None:
    """documents.openapi transform: the header and its answers (400 malformed key, 409 still running,
    422 reused) on every operation that honours it."""
    error = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or not declares_header(path, method):
                continue
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == HEADER_PARAMETER["name"] and p.get("in") == "header" for p in parameters):
                parameters.append(dict(HEADER_PARAMETER))
            responses = operation.setdefault("responses", {})
            for status in ("400", "409", "422"):
                responses.setdefault(status, dict(error))
