"""Audit log: every successful management-API and console action on a project, recorded after it ran.

One middleware sees every such request, so no area has to remember to call it: actor, action
(`<resource>.<verb>`), target, the request's fields with anything secret-looking redacted, the
ids the answer named, the client address and the time. Rows are append-only (the model refuses
updates; nothing in the API deletes them) and removed only by age (AUDIT_RETENTION_DAYS).
"Before": for changes to settings, schema (collections), API keys and members, a summary of the
state the action found (read just before the view ran; secrets redacted like the request) is kept
beside the request, so the log answers "what was it before" without a diff engine.
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
            name = _printable(str(key)[:60])
            out[name] = REDACTED if _SECRET.search(name) else redact(value[key], depth + 1)
        return out
    if isinstance(value, list):
        return [redact(item, depth + 1) for item in value[:MAX_FIELDS]]
    if isinstance(value, str):
        # A value that looks like one of our secrets is redacted wherever it appears.
        if value.startswith(("sk_", "whsec_", "pk_")) and len(value) > 20:
            return REDACTED
        return _printable(value[:MAX_TEXT])
    return value


def _printable(text: str) -> str:
    # A console form posted with NUL in a field: PostgreSQL's JSON cannot store \u0000, and the
    # failed insert would fail the action's request after its change was made.
    return text.replace("\x00", "\ufffd")


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


def _before_settings(project: Project, parts: list[str]) -> Any:
    from basalt.projects.project_settings import displayed_settings

    if len(parts) > 1 and parts[1] == "name":
        return {"name": project.name}
    shown = displayed_settings(project)  # the management API's own view: credentials already redacted
    # A console form changes one section (its path word names it).
    section = {"cors": "cors_origins"}.get(parts[1], parts[1]) if len(parts) > 1 else None
    if section in shown:
        return {section: shown[section]}
    return shown


def _before_collection(project: Project, parts: list[str]) -> Any:
    from basalt.documents.models import Collection

    if len(parts) < 2:
        return None  # a create: there was nothing before
    collection = Collection.objects.filter(project=project, name=parts[1]).first()
    if collection is None:
        return None
    return {
        "fields": {name: spec.get("type") for name, spec in collection.fields.items()},
        "indexes": collection.indexes,
        "permissions": collection.permissions,
        "protected_fields": collection.protected_fields,
        "default_acl": collection.default_acl,
    }


def _before_key(project: Project, parts: list[str]) -> Any:
    from basalt.projects.models import ApiKey

    key = ApiKey.objects.filter(project=project, id=parts[1]).first() if len(parts) > 1 else None
    if key is None:
        return None
    return {"id": key.id, "kind": key.kind, "name": key.name, "last4": key.last4, "revoked": key.revoked_at is not None}


def _before_member(project: Project, parts: list[str]) -> Any:
    from basalt.projects.models import Membership

    if len(parts) < 2 or not (parts[1].isascii() and parts[1].isdigit()):
        return None
    member = Membership.objects.filter(project=project, pk=int(parts[1])).select_related("account").first()
    if member is None:
        return None
    return {"id": member.pk, "email": member.account.email, "role": member.role}


# Resources whose earlier state the log keeps: path word (API and console) → what it was.
BEFORE = {
    "settings": _before_settings,
    "collections": _before_collection,
    "schema": _before_collection,
    "keys": _before_key,
    "members": _before_member,
}


def capture_before(request: HttpRequest) -> Any:
    """The summary of what the request is about to change, or None (a create, or not a tracked resource)."""
    found = _MANAGE.match(request.path) or _CONSOLE.match(request.path)
    if found is None:
        return None
    parts = [p for p in found["rest"].split("/") if p]
    capture = BEFORE.get(parts[0]) if parts else None
    if capture is None:
        return None
    project = Project.objects.filter(ref=found["ref"]).first()
    if project is None:
        return None
    state = capture(project, parts)
    return None if state is None else redact(state)


def record(request: HttpRequest, response: HttpResponse, before: Any = None) -> None:
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
    if before is not None:
        summary["before"] = before
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
        before = None
        if audited:
            try:
                before = capture_before(request)
            except Exception:  # the summary is a courtesy: the action still runs and is still logged
                logger.exception("could not read the state before %s %s", request.method, request.path)
        response = self.get_response(request)
        if audited:
            try:
                record(request, response, before)
            except Exception:  # the action happened; a failed audit write is logged, never turned into an error
                logger.exception("could not record the audit entry of %s %s", request.method, request.path)
        return response


def purge_expired() -> int:
    """Remove entries older than AUDIT_RETENTION_DAYS, a batch at a time."""
    cutoff = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    return delete_in_batches(AuditEntry.objects.filter(at__lt=cutoff))
