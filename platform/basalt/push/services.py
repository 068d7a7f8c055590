"""Push operations (API.md §7): send, read, list, cancel; one function per operation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils.dateparse import parse_datetime

from basalt.core.caller import Caller
from basalt.core.errors import Conflict, InvalidQuery, NotFound, PermissionDenied, ValidationFailed
from basalt.core.times import as_utc, keyset_cursor, read_keyset_cursor
from basalt.documents.store import format_time
from basalt.push import audience, clock, credentials, engine, message, providers
from basalt.push.models import Delivery, Push

BODY_KEYS = {
    "audience",
    "notification",
    "data",
    "localized",
    "badge",
    "collapse_key",
    "priority",
    "send_at",
    "expires_at",
    "local_time",
    "dry_run",
}
MAX_AHEAD = timedelta(days=90)
LIST_LIMIT = 100
# The badge a size check assumes for "increment": the widest a badge can render.
WIDEST_BADGE = 99999


def _err(field: str, text: str) -> ValidationFailed:
    return ValidationFailed(text, details={field: [text]})


def _require_secret(caller: Caller) -> None:
    if not caller.is_secret:
        raise PermissionDenied("Pushes are sent and read with the secret key (servers only).")


def _time(value: Any, field: str, *, wall: bool = False) -> datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) and len(value) <= 40 else None
    if parsed is None:
        raise _err(field, "Must be an RFC 3339 date-time, e.g. 2026-12-24T09:00:00.000Z.")
    if wall:
        return parsed.replace(tzinfo=UTC)
    if parsed.tzinfo is None:
        raise _err(field, "Must carry a time zone offset (Z for UTC).")
    moment = as_utc(parsed)
    if moment is None:
        raise _err(field, "The date is out of range.")
    return moment


def _check_sizes(project, msg: dict[str, Any], names: list[str]) -> None:
    """Every text variant must fit every targeted provider's limit, before anything is queued."""
    badge = msg.get("badge")
    widest = WIDEST_BADGE if badge == "increment" else badge
    errors: dict[str, list[str]] = {}
    for name in names:
        provider = providers.get(name)
        for texts in message.variants(msg):
            size = provider.payload_size(msg, texts, widest)
            if size > provider.max_payload:
                errors[f"payload.{name}"] = [
                    f"The {name} payload takes {size} bytes; the limit is {provider.max_payload}."
                ]
                break
    if errors:
        raise ValidationFailed("The push is larger than a provider accepts.", details=errors)


def send_push(caller: Caller, body: Any) -> tuple[dict[str, Any], int]:
    """POST /api/v1/push → (answer, status): 202 with the new push, or 200 `{targeted}` for a dry run."""
    _require_secret(caller)
    if not isinstance(body, dict):
        raise ValidationFailed("The body must be a JSON object.", details={"body": ["Must be an object."]})
    unknown = sorted(str(key)[:40] for key in body if key not in BODY_KEYS)
    if unknown:
        raise _err(unknown[0], "Unknown field.")
    for flag in ("local_time", "dry_run"):
        if flag in body and not isinstance(body[flag], bool):
            raise _err(flag, "Must be true or false.")
    local_time = body.get("local_time", False)
    target = audience.clean_audience(body.get("audience"))
    msg = message.clean_message(body)
    now = clock.now()
    send_at = _time(body.get("send_at"), "send_at", wall=local_time)
    expires_at = _time(body.get("expires_at"), "expires_at")
    if local_time and send_at is None:
        raise _err("send_at", "local_time needs send_at: the wall time to deliver at in each device's zone.")
    if send_at is not None and not now - timedelta(days=2) <= send_at <= now + MAX_AHEAD:
        raise _err("send_at", "Must be within 90 days from now (and not more than 2 days past).")
    if expires_at is not None:
        latest_send = (send_at + timedelta(hours=14)) if local_time and send_at else (send_at or now)
        if expires_at <= now or expires_at < latest_send - timedelta(hours=26 if local_time else 0):
            raise _err("expires_at", "Must be in the future and after send_at.")
        if expires_at > latest_send + timedelta(days=28):
            raise _err("expires_at", "Must be at most 28 days after sending (the providers' longest time to live).")
    configured = credentials.configured(caller.project)
    selection = audience.select(caller.project, target, configured)
    _check_sizes(caller.project, msg, configured or providers.names())
    if body.get("dry_run"):
        split = audience.count_by_provider(selection)
        return {"targeted": sum(split.values()), "providers": split, "configured": configured}, 200
    if local_time:
        # The earliest instant any zone reaches the wall time; each delivery is due at its own.
        fan_out_at = send_at - engine.MAX_UTC_OFFSET
    else:
        fan_out_at = send_at or now
    with transaction.atomic():
        push = Push.objects.create(
            project=caller.project,
            audience=target,
            message=msg,
            send_at=send_at,
            local_time=local_time,
            expires_at=expires_at,
            fan_out_at=max(fan_out_at, now) if not local_time else fan_out_at,
            created_at=now,
        )
        from basalt.usage import counters

        counters.record(caller.project.id, "pushes", now=now)
        if push.fan_out_at <= now:
            from basalt.push import tasks

            transaction.on_commit(lambda: tasks.run_push.delay(push.pk))
    return {"id": push.pk, "status": push.status}, 202


def _push_for(caller: Caller, push_id: Any) -> Push:
    _require_secret(caller)
    if not isinstance(push_id, str) or len(push_id) > 40:
        raise NotFound("Push not found.")
    push = Push.objects.filter(project=caller.project, pk=push_id).first()
    if push is None:
        raise NotFound("Push not found.")
    return push


COUNT_KEYS = ("targeted", "sent", "failed", "invalid_tokens", "pending", "in_flight_at_crash", "cancelled")


def _bucket(status: str) -> str:
    return {
        Delivery.SENT: "sent",
        Delivery.FAILED: "failed",
        Delivery.INVALID: "invalid_tokens",
        Delivery.IN_FLIGHT_AT_CRASH: "in_flight_at_crash",
        Delivery.CANCELLED: "cancelled",
    }.get(status, "pending")


def counts(push: Push) -> dict[str, Any]:
    total = dict.fromkeys(COUNT_KEYS, 0)
    per: dict[str, dict[str, int]] = {}
    rows = Delivery.objects.filter(push=push).values_list("provider", "status").annotate(n=Count("id")).order_by()
    for provider, status, n in rows:
        split = per.setdefault(provider, dict.fromkeys(COUNT_KEYS, 0))
        for bucket in ("targeted", _bucket(status)):
            total[bucket] += n
            split[bucket] += n
    return {**total, "providers": per}


def render(push: Push, *, with_counts: bool = True) -> dict[str, Any]:
    msg = push.message
    out: dict[str, Any] = {
        "id": push.pk,
        "status": push.status,
        "audience": push.audience,
        "notification": msg.get("notification"),
        "data": msg.get("data"),
        "localized": msg.get("localized"),
        "badge": msg.get("badge"),
        "collapse_key": msg.get("collapse_key"),
        "priority": msg.get("priority"),
        "send_at": format_time(push.send_at) if push.send_at else None,
        "local_time": push.local_time,
        "expires_at": format_time(push.expires_at) if push.expires_at else None,
        "error": push.error or None,
        "created_at": format_time(push.created_at),
        "finished_at": format_time(push.finished_at) if push.finished_at else None,
    }
    if with_counts:
        out["counts"] = counts(push)
    return out


def get_push(caller: Caller, push_id: Any) -> dict[str, Any]:
    return render(_push_for(caller, push_id))


def cancel_push(caller: Caller, push_id: Any) -> dict[str, Any]:
    """DELETE /api/v1/push/{id}: nothing more is sent; deliveries already handed to a worker finish."""
    push = _push_for(caller, push_id)
    with transaction.atomic():
        push = Push.objects.select_for_update().get(pk=push.pk)
        if push.status not in (Push.SCHEDULED, Push.SENDING):
            raise Conflict(f"This push is already {push.status}.")
        Delivery.objects.filter(push=push, status=Delivery.PENDING).update(
            status=Delivery.CANCELLED, reason="cancelled", finished_at=clock.now()
        )
        push.status = Push.CANCELLED
        push.finished_at = clock.now()
        push.save(update_fields=["status", "finished_at"])
    return render(push)


def _cursor(push: Push) -> str:
    return keyset_cursor(push.created_at, push.pk)


def list_pushes(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    _require_secret(caller)
    raw_limit = params.get("limit", 20)
    try:
        limit = int(raw_limit)
    except (TypeError, ValueError):
        raise InvalidQuery("`limit` must be an integer.") from None
    if not 1 <= limit <= LIST_LIMIT:
        raise InvalidQuery(f"`limit` must be from 1 to {LIST_LIMIT}.")
    scope = Push.objects.filter(project=caller.project).order_by("-created_at", "-id")
    status = params.get("status")
    if status is not None:
        if status not in dict(Push.STATUSES):
            raise InvalidQuery("Unknown `status`.")
        scope = scope.filter(status=status)
    cursor = params.get("cursor")
    if cursor:
        read = read_keyset_cursor(cursor)
        if read is None:
            raise InvalidQuery("Invalid `cursor`.")
        after, push_id = read
        from django.db.models import Q

        scope = scope.filter(Q(created_at__lt=after) | Q(created_at=after, id__lt=push_id))
    page = list(scope[: limit + 1])
    results = [render(push) for push in page[:limit]]
    return {"results": results, "next_cursor": _cursor(page[limit - 1]) if len(page) > limit else None}


def audience_count(caller: Caller, target: Any) -> dict[str, Any]:
    """The console's live count: how many active installations an audience reaches, per provider."""
    _require_secret(caller)
    cleaned = audience.clean_audience(target)
    configured = credentials.configured(caller.project)
    split = audience.count_by_provider(audience.select(caller.project, cleaned, list(providers.names())))
    return {
        "targeted": sum(n for name, n in split.items() if name in configured),
        "providers": split,
        "configured": configured,
    }
