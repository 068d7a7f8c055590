"""Push page: composer with a live audience count, history with a delivery funnel, installations, providers."""

from __future__ import annotations

from typing import Any

import orjson
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from basalt.core.errors import BasaltError, NotFound, PermissionDenied
from basalt.projects import services
from basalt.projects.roles import Perm
from basalt.push import credentials, installations
from basalt.push import services as push_services
from console import grid
from console.caller import console_caller
from console.views.common import ProjectAccess, error_messages, page, project_context, project_view

FUNNEL_WIDTH = 240


def _caller(request: HttpRequest, access: ProjectAccess, perm: Perm):
    project = services.access_project(request.user, access.project.ref, perm)
    return console_caller(project, request.user.pk)


def _json_field(raw: str, name: str) -> Any:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _FormError(f"{name} is not valid JSON.") from None


class _FormError(Exception):
    pass


def audience_from(post) -> dict[str, Any]:
    """The composer's audience: everyone, channels, user ids, a `where`, or one installation (a test)."""
    one = (post.get("test_installation") or "").strip()
    if one:
        return {"where": {"id": one}}
    mode = post.get("audience_mode") or "all"
    if mode == "channels":
        return {"channels": [c.strip() for c in (post.get("channels") or "").split(",") if c.strip()]}
    if mode == "users":
        return {"users": [u.strip() for u in (post.get("users") or "").split(",") if u.strip()]}
    if mode == "where":
        return {"where": _json_field(post.get("where") or "{}", "Where") or {}}
    return {}


def composed(post) -> dict[str, Any]:
    body: dict[str, Any] = {"audience": audience_from(post)}
    notification = {k: post.get(k).strip() for k in ("title", "body", "image") if (post.get(k) or "").strip()}
    if notification:
        body["notification"] = notification
    for name, label in (("data", "Data"), ("localized", "Localized texts")):
        value = _json_field(post.get(name), label)
        if value is not None:
            body[name] = value
    badge = (post.get("badge") or "").strip()
    if badge:
        body["badge"] = (
            "increment" if badge == "increment" else int(badge) if badge.isascii() and badge.isdigit() else badge
        )
    for name in ("collapse_key", "send_at", "expires_at"):
        value = (post.get(name) or "").strip()
        if value:
            body[name] = value
    body["priority"] = post.get("priority") or "high"
    if post.get("local_time") == "on":
        body["local_time"] = True
    if body.get("send_at") and not body.get("local_time") and len(body["send_at"]) == 16:
        body["send_at"] += ":00Z"  # a datetime-local input is minutes, read as UTC
    if body.get("expires_at") and len(body["expires_at"]) == 16:
        body["expires_at"] += ":00Z"
    return body


def _funnel(counts: dict[str, Any]) -> list[dict[str, Any]]:
    total = counts["targeted"] or 1
    steps = [
        ("Targeted", counts["targeted"]),
        ("Sent", counts["sent"]),
        ("Failed", counts["failed"]),
        ("Invalid", counts["invalid_tokens"]),
        ("Pending", counts["pending"]),
    ]
    return [{"label": label, "value": value, "width": round(FUNNEL_WIDTH * value / total, 1)} for label, value in steps]


def _custom_value(value: Any) -> str:
    """A custom field as text: Dates and Pointers (basalt.push.custom) readable, the rest as in the data grid."""
    if isinstance(value, dict) and value.get("__type") == "Date":
        return str(value.get("iso"))
    if isinstance(value, dict) and value.get("__type") == "Pointer":
        return f"→ {value.get('collection')}/{value.get('id')}"
    return grid.short_text(value, 60)


def _custom_pairs(fields: Any) -> list[tuple[str, str]]:
    """An installation's app-defined fields as (name, short text) for the devices table (at most 12)."""
    if not isinstance(fields, dict):
        return []
    pairs = [(name, _custom_value(value)) for name, value in sorted(fields.items())[:12]]
    if len(fields) > 12:
        pairs.append(("…", f"{len(fields) - 12} more"))
    return pairs


@project_view
def push_page(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    return _push_page(request, access)


def _push_page(request: HttpRequest, access: ProjectAccess, status: int = 200, **extra: Any) -> HttpResponse:
    caller = console_caller(access.project, request.user.pk)
    history = push_services.list_pushes(caller, {"limit": 20})["results"]
    for item in history:
        item["funnel"] = _funnel(item["counts"])
    where_text = request.GET.get("where") or ""
    browse_error = None
    try:
        params: dict[str, Any] = {"limit": 50, "order": "-updated_at"}
        if where_text:
            params["where"] = orjson.loads(where_text)
        devices = installations.list_installations(caller, params)["results"]
        for device in devices:
            device["custom_pairs"] = _custom_pairs(device.get("custom"))
    except (orjson.JSONDecodeError, BasaltError) as exc:
        devices, browse_error = [], getattr(exc, "message", None) or "Where is not valid JSON."
    providers = credentials.redact_push_section(credentials.stored_section(access.project))
    context = project_context(
        access,
        "push",
        history=history,
        devices=devices,
        where_text=where_text,
        browse_error=browse_error,
        providers=providers,
        funnel_width=FUNNEL_WIDTH,
        **extra,
    )
    return page(request, "console/push/push.html", context, status=status)


def _back(access: ProjectAccess, anchor: str) -> HttpResponse:
    return redirect(reverse("console:push", args=[access.project.ref]) + f"#{anchor}")


@project_view
def push_send(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    try:
        caller = _caller(request, access, Perm.CHANGE_DATA)
        answer, status = push_services.send_push(caller, composed(request.POST))
        messages.success(request, f"Push {answer['id']} queued." if status == 202 else "Dry run.")
    except PermissionDenied:
        raise
    except (_FormError, BasaltError) as exc:
        for text in [str(exc)] if isinstance(exc, _FormError) else error_messages(exc):
            messages.error(request, text)
        return _back(access, "composer")
    return _back(access, "history")


@project_view
def push_cancel(request: HttpRequest, access: ProjectAccess, push_id: str) -> HttpResponse:
    try:
        push_services.cancel_push(_caller(request, access, Perm.CHANGE_DATA), push_id)
        messages.success(request, "Push cancelled: nothing more is sent.")
    except PermissionDenied:
        raise
    except BasaltError as exc:
        messages.error(request, exc.message)
    return _back(access, "history")


@project_view
def push_audience(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    """JSON for the composer's live count (GET with the form's fields as query parameters)."""
    try:
        answer = push_services.audience_count(
            console_caller(access.project, request.user.pk), audience_from(request.GET)
        )
    except _FormError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except BasaltError as exc:
        return JsonResponse({"error": "; ".join(error_messages(exc))}, status=400)
    return JsonResponse(answer)


@project_view
def push_providers(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    post, files = request.POST, request.FILES
    provider = post.get("provider")
    section: dict[str, Any] = {}
    try:
        if post.get("remove") == "on":
            section[provider] = None
        elif provider == "fcm":
            upload = files.get("service_account")
            text = upload.read(64 * 1024).decode("utf-8", "replace") if upload else post.get("service_account_json", "")
            section["fcm"] = {"service_account": text}
        elif provider == "apns":
            upload = files.get("p8")
            key = upload.read(16 * 1024).decode("utf-8", "replace") if upload else post.get("p8_text", "")
            section["apns"] = {
                "key": key,
                "key_id": post.get("key_id", "").strip(),
                "team_id": post.get("team_id", "").strip(),
                "bundle_id": post.get("bundle_id", "").strip(),
                "sandbox": post.get("sandbox") == "on",
            }
        elif provider == "webpush":
            section["webpush"] = {
                "generate": True,
                "subject": post.get("subject", "").strip() or "mailto:push@localhost",
            }
        else:
            raise _FormError("Unknown provider.")
        services.change_project_settings(request.user, access.project.ref, {"push": section})
        messages.success(request, f"{provider} settings saved.")
    except PermissionDenied:
        raise
    except (_FormError, BasaltError) as exc:
        for text in [str(exc)] if isinstance(exc, _FormError) else error_messages(exc):
            messages.error(request, text)
    return _back(access, "providers")


@project_view
def push_channels(request: HttpRequest, access: ProjectAccess, installation_id: str) -> HttpResponse:
    """Subscribe a device to channels or unsubscribe it: the API's channel operation, under its row lock."""
    caller = _caller(request, access, Perm.CHANGE_DATA)
    removing = request.POST.get("op") == "remove"
    text = request.POST.get("channels") or ""
    names = [name.strip() for name in text.split(",") if name.strip()]
    try:
        if not names:
            raise _FormError("Name at least one channel.")
        # An operation, not the whole list: a device subscribing at the same moment is not undone.
        change = {"__op": "remove" if removing else "add_unique", "items": names}
        device = installations.update_installation(caller, installation_id, {"channels": change})
    except PermissionDenied:
        raise
    except NotFound:
        # Another project's device answers exactly like a missing one (project_view's 404 page).
        raise NotFound("No such installation in this project: it may have been deleted.") from None
    except (_FormError, BasaltError) as exc:
        errors = [str(exc)] if isinstance(exc, _FormError) else error_messages(exc)
        channel_error = {"id": installation_id, "messages": errors, "value": "" if removing else text[:2000]}
        return _push_page(request, access, status=400, channel_error=channel_error)
    subscribed = ", ".join(device["channels"]) or "no channel"
    messages.success(request, f"Installation {device['id']} now in: {subscribed}.")
    return _back(access, "installations")
