"""Audit log: every successful management-API and console action on a project, recorded after it ran.

One middleware sees every such request, so no area has to remember to call it: actor, action
(`<resource>.<verb>`), target, the request's fields with anything secret-looking redacted, the
ids the answer named, the client address and the time. Rows are append-only (the model refuses
updates; nothing in the API deletes them) and removed only by age (AUDIT_RETENTION_DAYS).
Known limit: the summary is what was asked for, not a diff against the previous state ("before"
is recorded only where the request itself names it, e.g. a console form's precondition).
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from basalt.core.addresses import client_address
from basalt.operations.idempotency import delete_in_batches
from basalt.operations.models import AuditEntry
from basalt.projects.models import Project

logger = logging.getLogger("basalt.operations.audit")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MANAGE = re.compile(r"^/api/v1/manage/projects/(?P<ref>[^/]+)(?P<rest>(?:/[^/]+)*)/?\Z")
_CONSOLE = re.compile(r"^/console/p/(?P<ref>[a-z0-9]{1,32})(?P<rest>(?:/[^/]+)*)/?\Z")
_SECRET = re.compile(r"secret|password|passphrase|token|credential|private|api_?key|^key$|raw|csrf", re.I)
VERBS = {"POST": "create", "PUT": "replace", "PATCH": "update", "DELETE": "delete"}
# Path words that name an action on the resource rather than a resource id.
ACTIONS = frozenset(
    {"ping", "redeliver", "run", "runs", "revoke", "toggle", "delete", "new", "rotate", "accept", "resend"}
)
MAX_FIELDS = 30
MAX_TEXT = 200
REDACTED = "[redacted]"


def redact(value: Any, depth: int = 0) -> Any:
    """A bounded copy with every secret-looking key's value replaced; long text cut."""
    if depth > 3:
        return "…"
    if isinstance(value, dict):
        out = {}
        for key in list(value)[:MAX_FIELDS]:
            name = str(key)[:60]
            out[name] = REDACTED if _SECRET.search(name) else redact(value[key], depth + 1)
        return out
    if isinstance(value, list):
        return [redact(item, depth + 1) for item in value[:MAX_FIELDS]]
    if isinstance(value, str):
        # A value that looks like one of our secrets is redacted wherever it appears.
        if value.startswith(("sk_", "whsec_", "pk_")) and len(value) > 20:
            return REDACTED
        return value[:MAX_TEXT]
    return value


def _fields(request: HttpRequest) -> Any:
    content_type = request.META.get("CONTENT_TYPE", "")
    if "json" in content_type:
        try:
            return orjson.loads(request.body) if request.body else {}
        except (orjson.JSONDecodeError, ValueError):
            return {}
    if request.method == "POST":
        return {k: (v if len(vs) == 1 else vs) for k, vs in request.POST.lists() for v in vs[:1]}
    return {}


def _action(rest: str, method: str) -> tuple[str, str]:
    parts = [p for p in rest.split("/") if p]
    if not parts:
        return f"project.{VERBS[method]}", ""
    resource = parts[0]
    verb = parts[-1] if len(parts) > 1 and parts[-1] in ACTIONS else VERBS[method]
    target_parts = [p for p in parts[1:] if p not in ACTIONS]
    return f"{resource}.{verb}"[:80], "/".join(target_parts)[:300]


def _answer_ids(response: HttpResponse) -> dict[str, Any]:
    if "json" not in response.get("Content-Type", "") or response.streaming:
        return {}
    try:
        body = orjson.loads(response.content)
    except (orjson.JSONDecodeError, ValueError):
        return {}
    if not isinstance(body, dict):
        return {}
    return {k: body[k] for k in ("id", "ref", "name", "kind", "status") if isinstance(body.get(k), str | int)}


def record(request: HttpRequest, response: HttpResponse) -> None:
    path = request.path
    found = _MANAGE.match(path) or _CONSOLE.match(path)
    if found is None or request.method not in MUTATING or not 200 <= response.status_code < 400:
        return
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return
    project = Project.objects.filter(ref=found["ref"]).only("id").first()
    if project is None:  # the project itself was deleted by this request
        return
    action, target = _action(found["rest"], request.method)
    summary: dict[str, Any] = {"request": redact(_fields(request))}
    answer = _answer_ids(response)
    if answer:
        summary["answer"] = redact(answer)
    AuditEntry.objects.create(
        project=project,
        actor_id=user.pk,
        actor_email=getattr(user, "email", "")[:254],
        via="api" if path.startswith("/api/") else "console",
        action=action,
        target=target,
        status=response.status_code,
        summary=summary,
        address=client_address(request),
    )


class AuditMiddleware:
    """The one call site: after a successful management or console write, append its audit entry."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        audited = request.method in MUTATING and request.path.startswith(("/api/v1/manage/projects/", "/console/p/"))
        if audited and "json" in request.META.get("CONTENT_TYPE", ""):
            request.body  # noqa: B018 (keep the bounded body: DRF would consume the stream)
        response = self.get_response(request)
        if audited:
            try:
                record(request, response)
            except Exception:  # the action happened; a failed audit write is logged, never turned into an error
                logger.exception("could not record the audit entry of %s %s", request.method, request.path)
        return response


def purge_expired() -> int:
    """Remove entries older than AUDIT_RETENTION_DAYS, a batch at a time."""
    cutoff = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    return delete_in_batches(AuditEntry.objects.filter(at__lt=cutoff))
