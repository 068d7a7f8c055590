"""Webhook endpoints for console members: register, change, remove, browse deliveries, redeliver, ping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from basalt.accounts.models import Account
from basalt.core.errors import Conflict, InvalidQuery, NotFound, ValidationFailed
from basalt.core.json import NUL_MESSAGE
from basalt.hooks import changelog, dispatch, events, signing, ssrf
from basalt.hooks.models import Attempt, Cursor, Delivery, Endpoint
from basalt.hooks.rules import parse_where
from basalt.projects.models import Project
from basalt.projects.roles import Perm
from basalt.projects.services import _only_fields, access_project

FIELDS = {"url", "description", "events", "collections", "where", "enabled"}
MAX_ENDPOINTS = 20
MAX_COLLECTIONS = 50
PAGE = 50


@dataclass
class NewEndpoint:
    endpoint: Endpoint
    secret: str


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details={field: [message]})


def _clean(project: Project, body: dict[str, Any], current: Endpoint | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "url" in body or current is None:
        try:
            ssrf.check_at_registration(body.get("url"))
        except ssrf.TargetRefused as exc:
            raise _bad("url", str(exc)) from None
        out["url"] = body["url"]
    if "description" in body:
        text = body["description"]
        if not isinstance(text, str) or len(text) > 200:
            raise _bad("description", "A text of at most 200 characters.")
        if "\x00" in text:
            raise _bad("description", NUL_MESSAGE)
        out["description"] = text
    if "events" in body or current is None:
        names = body.get("events")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise _bad("events", f"A non-empty list of event names: {', '.join(sorted(events.EVENT_TYPES))}.")
        unknown = sorted({n for n in names if n not in events.EVENT_TYPES})
        if unknown:
            raise _bad("events", f"Unknown event {unknown[0][:64]!r}.")
        out["events"] = sorted(set(names))
    if "collections" in body:
        names = body["collections"]
        if names is None:
            names = []
        if (
            not isinstance(names, list)
            or len(names) > MAX_COLLECTIONS
            or not all(isinstance(n, str) and 0 < len(n) <= 63 for n in names)
        ):
            raise _bad("collections", f"A list of at most {MAX_COLLECTIONS} collection names.")
        out["collections"] = sorted(set(names))
    if "where" in body:
        out["where"] = body["where"]
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise _bad("enabled", "true or false.")
        out["enabled"] = body["enabled"]
    collections = out.get("collections", current.collections if current else [])
    where = out.get("where", current.where if current else None)
    if where is not None:
        if len(collections) != 1:
            raise _bad("where", "A where filter needs exactly one collection in `collections`.")
        try:
            _, _, operator = parse_where(project, collections[0], where)
        except NotFound:
            raise _bad("collections", f"No collection named {collections[0]!r}.") from None
        except InvalidQuery as exc:
            raise _bad("where", exc.message) from None
        if operator:
            raise _bad("where", f"{operator} is not supported in webhook filters.")
    return out


def list_endpoints(account: Account, ref: str) -> list[Endpoint]:
    project = access_project(account, ref, Perm.VIEW)
    return list(Endpoint.objects.filter(project=project).order_by("created_at"))


def get_endpoint(account: Account, ref: str, endpoint_id: Any, perm: Perm = Perm.VIEW) -> Endpoint:
    project = access_project(account, ref, perm)
    endpoint = Endpoint.objects.filter(project=project, id=str(endpoint_id)[:40]).first()
    if endpoint is None:
        raise NotFound("Webhook endpoint not found.")
    return endpoint


def create_endpoint(account: Account, ref: str, body: Any) -> NewEndpoint:
    project = access_project(account, ref, Perm.MANAGE_SETTINGS)
    data = _clean(project, _only_fields(body, FIELDS), None)
    secret = signing.new_secret()
    with transaction.atomic():
        if Endpoint.objects.filter(project=project).count() >= MAX_ENDPOINTS:
            raise Conflict(f"A project may have at most {MAX_ENDPOINTS} webhook endpoints.")
        head = changelog.head(project.id)
        endpoint = Endpoint.objects.create(project=project, secret_sealed=signing.seal(secret), start_seq=head, **data)
        Cursor.objects.get_or_create(project=project, defaults={"seq": head})
    dispatch.forget(project.id)
    return NewEndpoint(endpoint, secret)


def update_endpoint(account: Account, ref: str, endpoint_id: Any, body: Any) -> Endpoint:
    endpoint = get_endpoint(account, ref, endpoint_id, Perm.MANAGE_SETTINGS)
    data = _clean(endpoint.project, _only_fields(body, FIELDS), endpoint)
    now = timezone.now()
    if data.get("enabled") is True and not endpoint.enabled:
        # Re-enabled: the failure clock starts over, and waiting deliveries get a fresh 24 hours.
        data.update(disabled_reason="", disabled_at=None, failing_since=None)
        waiting = Delivery.objects.filter(endpoint=endpoint, status=Delivery.PENDING)
        waiting.update(window_start=now, next_attempt_at=now)
    elif data.get("enabled") is False and endpoint.enabled:
        data.update(disabled_reason="Disabled by a project member.", disabled_at=now)
    for name, value in data.items():
        setattr(endpoint, name, value)
    endpoint.updated_at = now
    endpoint.save()
    dispatch.forget(endpoint.project_id)
    if endpoint.enabled:
        transaction.on_commit(lambda: dispatch._kick(endpoint.id))
    return endpoint


def delete_endpoint(account: Account, ref: str, endpoint_id: Any) -> None:
    endpoint = get_endpoint(account, ref, endpoint_id, Perm.MANAGE_SETTINGS)
    endpoint.delete()
    dispatch.forget(endpoint.project_id)


def list_deliveries(account: Account, ref: str, endpoint_id: Any, params: Any) -> dict[str, Any]:
    """Newest first, PAGE at a time; `before` is the created_at/id cursor of the last row seen."""
    endpoint = get_endpoint(account, ref, endpoint_id)
    rows = Delivery.objects.filter(endpoint=endpoint)
    status = params.get("status")
    if status:
        if status not in {s for s, _ in Delivery.STATUSES}:
            raise _bad("status", "One of pending, sending, succeeded, failed.")
        rows = rows.filter(status=status)
    before = params.get("before")
    if before:
        anchor = Delivery.objects.filter(endpoint=endpoint, id=str(before)[:40]).first()
        if anchor is None:
            raise _bad("before", "Unknown delivery id.")
        rows = rows.filter(created_at__lte=anchor.created_at).exclude(id=anchor.id)
    page = list(rows.order_by("-created_at", "-id")[: PAGE + 1])
    attempts: dict[str, Attempt] = {}
    for attempt in Attempt.objects.filter(delivery__in=page[:PAGE]).order_by("number"):
        attempts[attempt.delivery_id] = attempt  # the last one wins
    return {
        "results": [(d, attempts.get(d.id)) for d in page[:PAGE]],
        "next": page[PAGE - 1].id if len(page) > PAGE else None,
    }


def get_delivery(account: Account, ref: str, delivery_id: Any, perm: Perm = Perm.VIEW) -> Delivery:
    project = access_project(account, ref, perm)
    delivery = Delivery.objects.filter(project=project, id=str(delivery_id)[:40]).select_related("endpoint").first()
    if delivery is None:
        raise NotFound("Delivery not found.")
    return delivery


def delivery_attempts(delivery: Delivery) -> list[Attempt]:
    return list(Attempt.objects.filter(delivery=delivery).order_by("number")[:200])


def redeliver(account: Account, ref: str, delivery_id: Any) -> Delivery:
    """Send the same message (same webhook-id) again now, with a fresh retry window."""
    delivery = get_delivery(account, ref, delivery_id, Perm.MANAGE_SETTINGS)
    now = timezone.now()
    Delivery.objects.filter(id=delivery.id).update(
        status=Delivery.PENDING, next_attempt_at=now, window_start=now, finished_at=None, claimed_until=None
    )
    endpoint_id = delivery.endpoint_id
    transaction.on_commit(lambda: dispatch._kick(endpoint_id))
    delivery.refresh_from_db()
    return delivery


def ping(account: Account, ref: str, endpoint_id: Any) -> Delivery:
    """A signed `webhook.ping` to this endpoint (even a disabled one is not sent until re-enabled)."""
    endpoint = get_endpoint(account, ref, endpoint_id, Perm.MANAGE_SETTINGS)
    with transaction.atomic():
        (delivery,) = dispatch.emit(endpoint.project_id, events.PING, {"endpoint": endpoint.id}, endpoint=endpoint)
    delivery.refresh_from_db()
    return delivery


AUTO_DISABLED = "Disabled automatically"


def auto_disabled(project: Project) -> list[Endpoint]:
    """Endpoints the failure clock disabled, for the console's notice."""
    rows = Endpoint.objects.filter(project=project, enabled=False, disabled_reason__startswith=AUTO_DISABLED)
    return list(rows.order_by("-disabled_at"))
