"""Installations (API.md §7): register (upsert by token), update, delete, list; written as documents.

Who may do what: anyone holding the publishable key registers a device (the token proves the
device; a signed-in caller's user is linked, a signed-out registration unlinks); the linked
user or the secret key reads, changes and deletes it; nobody else learns it exists (404). The
token is shown only to them. An installation with no user belongs to the device itself: a
caller who presents the device's identity (`device_proved`) reads and changes it, and a
signed-in one may claim it by setting `user` to themselves (Parse's flow: the app saves its
installation at launch signed out, then `installation.set('user', currentUser)` after logging
in). Every write is one transaction with a change-log row.
"""

from __future__ import annotations

import hmac
import re
import zoneinfo
from typing import Any

from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from basalt.core.caller import Caller
from basalt.core.errors import InvalidQuery, NotFound, ValidationFailed
from basalt.core.json import NUL_MESSAGE
from basalt.documents import access, finding, store
from basalt.documents import services as documents_services
from basalt.documents.cache import Schema, build_schema, project_schemas
from basalt.documents.models import ChangeLogEntry, Document, new_document_id
from basalt.documents.query.compiler import Compiler
from basalt.documents.query.dialects import current_dialect
from basalt.documents.query.parser import parse_query
from basalt.documents.render import render
from basalt.push import custom, providers
from basalt.push.builtin import INSTALLATIONS, PLATFORMS, PROVIDERS, installations_collection

_CHANNEL = re.compile(r"\A[A-Za-z0-9_\-:.]{1,64}\Z")
_LOCALE = re.compile(r"\A[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}\Z")
_ZONE = re.compile(r"\A[A-Za-z0-9_+\-]{1,30}(?:/[A-Za-z0-9_+\-]{1,30}){0,2}\Z")
_DOC_ID = re.compile(r"\A[a-z0-9]{20}\Z")
WRITABLE = ("platform", "provider", "token", "channels", "locale", "timezone", "app_version", "badge")
# Also written: `custom` (app-defined fields, merged: custom.py) and `user` (the secret key names
# anyone; a client only itself, or no one on its own device).
# Which providers serve which platforms (FCM also delivers to iOS and the web).
PLATFORM_PROVIDERS = {"android": ("fcm",), "ios": ("apns", "fcm"), "web": ("webpush", "fcm")}
MAX_CHANNELS = 100
# The custom field where Parse SDKs keep the device's own installationId (a UUID they make once).
DEVICE_ID = "installation_id"


def _err(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={field: [message]})


def valid_timezone(name: Any) -> bool:
    if not isinstance(name, str) or not _ZONE.match(name):
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


CHANNEL_OPS = frozenset({"add", "add_unique", "remove"})


def _channel_names(names: Any) -> list[str]:
    if not isinstance(names, list) or len(names) > MAX_CHANNELS:
        raise _err("channels", f"Must be a list of at most {MAX_CHANNELS} channel names.")
    if not all(isinstance(c, str) and _CHANNEL.match(c) for c in names):
        raise _err("channels", "Channel names are 1 to 64 letters, digits, '_', '-', ':' or '.'.")
    return names


def channels_after(change: Any, current: list[str]) -> list[str]:
    """The channels a write leaves: a whole list, or `{"__op": "add" | "add_unique" | "remove", "items":
    [...]}` on the current ones (how Parse SDKs subscribe: `addUnique("channels", ...)`), so two
    devices' or two tabs' subscriptions made at once never undo each other. Channels are a set:
    `add` and `add_unique` are the same, and the answer is sorted."""
    if isinstance(change, dict):
        op = change.get("__op")
        if not isinstance(op, str) or op not in CHANNEL_OPS or set(change) - {"__op", "items"}:
            raise _err("channels", 'An operation is {"__op": "add" | "add_unique" | "remove", "items": [...]}.')
        items = set(_channel_names(change.get("items")))
        change = sorted(set(current) - items) if op == "remove" else sorted(set(current) | items)
    return sorted(set(_channel_names(change)))


def _clean(
    body: Any,
    *,
    creating: bool,
    current: dict[str, Any] | None = None,
    secret: bool = False,
    user_id: str | None = None,
) -> dict[str, Any]:
    """The built-in fields of a write, checked (`custom` and `user` are applied by the caller)."""
    if not isinstance(body, dict):
        raise ValidationFailed("The body must be a JSON object.", details={"body": ["Must be an object."]})
    unknown = sorted(str(key)[:40] for key in body if key not in WRITABLE and key not in ("user", "custom"))
    if unknown:
        raise _err(unknown[0], "Unknown field.")
    if "user" in body and not secret and body["user"] != user_id and not (body["user"] is None and not creating):
        # A client names only itself (a no-op) or, on its own device, no one: never another user.
        raise _err("user", "Set from the access token: only the secret key attaches a device to another user.")
    if "custom" in body and not isinstance(body["custom"], dict):
        raise _err("custom", "Must be an object of custom fields.")
    out: dict[str, Any] = {}
    for name in ("platform", "provider"):
        if name in body:
            choices = PLATFORMS if name == "platform" else PROVIDERS
            if body[name] not in choices:
                raise _err(name, f"Must be one of {', '.join(choices)}.")
            out[name] = body[name]
    if "token" in body:
        token = body["token"]
        if not isinstance(token, str) or not token or len(token) > 2048:
            raise _err("token", "Must be a non-empty string of at most 2048 characters.")
        out["token"] = token
    if "channels" in body:
        out["channels"] = channels_after(body["channels"], (current or {}).get("channels") or [])
    if "locale" in body:
        if not isinstance(body["locale"], str) or not _LOCALE.match(body["locale"]):
            raise _err("locale", "Must be a BCP 47 language tag such as fr or pt-BR.")
        out["locale"] = body["locale"].replace("_", "-")
    if "timezone" in body:
        if not valid_timezone(body["timezone"]):
            raise _err("timezone", "Must be an IANA time zone such as Europe/Paris.")
        out["timezone"] = body["timezone"]
    if "app_version" in body:
        if not isinstance(body["app_version"], str) or len(body["app_version"]) > 64:
            raise _err("app_version", "Must be a string of at most 64 characters.")
        if "\x00" in body["app_version"]:
            raise _err("app_version", NUL_MESSAGE)
        out["app_version"] = body["app_version"]
    if "badge" in body:
        badge = body["badge"]
        if isinstance(badge, bool) or not isinstance(badge, int) or not 0 <= badge <= 99999:
            raise _err("badge", "Must be an integer from 0 to 99999.")
        out["badge"] = badge
    merged = {**(current or {}), **out}
    if creating:
        for name in ("platform", "provider", "token"):
            if name not in merged:
                raise _err(name, "Required.")
    if (
        "platform" in merged
        and "provider" in merged
        and merged["provider"] not in PLATFORM_PROVIDERS[merged["platform"]]
    ):
        raise _err("provider", f"{merged['provider']} does not deliver to {merged['platform']} devices.")
    if "token" in out or "provider" in out:
        problem = providers.get(merged["provider"]).check_token(merged["token"])
        if problem:
            raise _err("token", problem)
    return out


def schema_of(caller: Caller) -> Schema:
    """The installations collection's schema, for this service and the faces that translate queries
    over it: the project's cached one (by schema version), built from the collection only when the
    cache has none with `custom` (the collection is made or completed on first need)."""
    cached = project_schemas(caller.project).get(INSTALLATIONS)
    if cached is not None and "custom" in cached.fields:
        return cached
    return build_schema(installations_collection(caller.project))


def _token_filter(schema: Schema, where: dict[str, Any]) -> tuple[str, list[Any]]:
    query = parse_query(schema.collection, {"where": where}, {})
    return Compiler(current_dialect(), schema.collection).filters(query, None)


def _find_by_token(schema: Schema, token: str) -> str | None:
    where, params = _token_filter(schema, {"token": token})
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM basalt_document WHERE {where} LIMIT 1", params)  # noqa: S608
        row = cursor.fetchone()
    return row[0] if row else None


def _lock_token(schema: Schema, token: str) -> None:
    """Serialise registrations of one token (PostgreSQL; SQLite's writers are serialised already)."""
    if store.is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"basalt.installation:{schema.collection.pk}:{token}"],
            )


def _set_custom(data: dict[str, Any], fields: dict[str, Any]) -> None:
    if fields:
        data["custom"] = fields
    else:
        data.pop("custom", None)


def _file_names(caller: Caller) -> custom.FileNames:
    """The names of the project's ready files among some ids: what a File custom value may name."""

    def names(ids: set[str]) -> dict[str, str]:
        from basalt.files.models import File

        rows = File.objects.filter(project_id=caller.project.id, pk__in=ids, status=File.READY)
        return dict(rows.values_list("id", "name"))

    return names


def _acl(user_id: str | None) -> dict[str, Any]:
    return {user_id: {"read": True, "write": True}} if user_id else {}


def _render(schema: Schema, doc: Any) -> dict[str, Any]:
    return render(schema, doc)


def register(caller: Caller, body: Any) -> tuple[dict[str, Any], bool]:
    """POST /api/v1/installations: upsert by token. Returns (installation, created)."""
    cleaned = _clean(body, creating=True, secret=caller.is_secret, user_id=caller.user_id)
    user_id = caller.user_id
    if caller.is_secret and "user" in body:
        user_id = _check_user(caller, body["user"])
    schema = schema_of(caller)
    now = timezone.now()
    with transaction.atomic():
        _lock_token(schema, cleaned["token"])
        existing_id = _find_by_token(schema, cleaned["token"])
        current = store.fetch(schema.collection.pk, existing_id, for_update=True) if existing_id else None
        if current is None:
            data = {"channels": [], "badge": 0, **cleaned, "active": True}
            if "custom" in body:
                _set_custom(data, custom.apply(None, body["custom"], _file_names(caller)))
            if user_id:
                data["user"] = user_id
            doc = store.StoredDoc(
                id=new_document_id(),
                data=data,
                acl=_acl(user_id),
                read_principals=[user_id] if user_id else [],
                write_principals=[user_id] if user_id else [],
                created_by=user_id,
                created_at=now,
                updated_at=now,
                version=1,
            )
            store.insert(doc, caller.project.id, schema.collection.pk)
            store.append_change(
                caller.project.id, INSTALLATIONS, doc.id, ChangeLogEntry.CREATE, None, _render(schema, doc), now
            )
            return _render(schema, doc), True
        data = {**current.data, **cleaned, "active": True}
        if "channels" in body:  # `cleaned` applied an operation to none: it applies to this device's
            data["channels"] = channels_after(body["channels"], current.data.get("channels") or [])
        if "custom" in body:
            _set_custom(data, custom.apply(current.data.get("custom"), body["custom"], _file_names(caller)))
        data.pop("user", None)
        if user_id:
            data["user"] = user_id
        return _write(caller, schema, current, data, _acl(user_id), now), False


def _check_user(caller: Caller, user_id: Any) -> str | None:
    if user_id is None:
        return None
    from basalt.identity.models import EndUser

    if not isinstance(user_id, str) or not EndUser.objects.filter(project=caller.project, id=user_id).exists():
        raise _err("user", "No such user in this project.")
    return user_id


def _write(caller: Caller, schema: Schema, current: store.StoredDoc, data: dict[str, Any], acl: dict, now) -> dict:
    before = _render(schema, current)
    current.data = data
    current.acl = acl
    current.read_principals, current.write_principals = access.acl_principals(acl)
    current.version += 1
    current.updated_at = now
    store.update(current, schema.collection.pk)
    after = _render(schema, current)
    store.append_change(caller.project.id, INSTALLATIONS, current.id, ChangeLogEntry.UPDATE, before, after, now)
    return after


def device_proved(doc: store.StoredDoc, device_id: Any) -> bool:
    """Whether a caller addressing an installation by its id is that device, for one with no user.

    Its id is answered only to the device that registered it (an ownerless installation's ACL is
    empty: no one else reads it), and to a user who owned it before it was unlinked. When the
    device also keeps an installationId (Parse SDKs make one and send it with every request), the
    caller must present it too, so an id seen elsewhere (a log, a URL) is not enough."""
    if doc.data.get("user"):
        return False
    held = (doc.data.get("custom") or {}).get(DEVICE_ID)
    if held is None:
        return True
    return (
        isinstance(held, str) and isinstance(device_id, str) and hmac.compare_digest(held.encode(), device_id.encode())
    )


def _owned(
    caller: Caller, schema: Schema, installation_id: Any, *, for_update: bool, device: Any = False
) -> store.StoredDoc:
    """The installation if the caller is its user, the secret key or (when `device` is not False:
    the installationId the caller presents, or None) the device of an ownerless one; else 404
    (existence not leaked: another user's device answers as a missing one)."""
    if not isinstance(installation_id, str) or not _DOC_ID.match(installation_id):
        raise NotFound("Installation not found.")
    doc = store.fetch(schema.collection.pk, installation_id, for_update=for_update)
    if doc is None:
        raise NotFound("Installation not found.")
    if caller.is_secret or (caller.user_id and doc.data.get("user") == caller.user_id):
        return doc
    if device is not False and device_proved(doc, device):
        return doc
    raise NotFound("Installation not found.")


def get_installation(caller: Caller, installation_id: Any, *, device: str | None = None) -> dict[str, Any]:
    """One installation; `device` is the installationId the caller presents (Parse SDKs)."""
    schema = schema_of(caller)
    return _render(schema, _owned(caller, schema, installation_id, for_update=False, device=device))


def update_installation(
    caller: Caller, installation_id: Any, body: Any, *, device: str | None = None
) -> dict[str, Any]:
    """PATCH: the owner, the secret key, or the device of an ownerless installation; a signed-in
    device claims it with `user` set to itself (never to another user: `_clean`)."""
    schema = schema_of(caller)
    with transaction.atomic():
        current = _owned(caller, schema, installation_id, for_update=True, device=device)
        cleaned = _clean(body, creating=False, current=current.data, secret=caller.is_secret, user_id=caller.user_id)
        acl = current.acl
        data = {**current.data, **cleaned}
        if "custom" in body:
            _set_custom(data, custom.apply(current.data.get("custom"), body["custom"], _file_names(caller)))
        if "user" in body:
            user_id = _check_user(caller, body["user"]) if caller.is_secret else body["user"]
            data.pop("user", None)
            if user_id:
                data["user"] = user_id
            acl = _acl(user_id)
        if "token" in cleaned and cleaned["token"] != current.data.get("token"):
            _lock_token(schema, cleaned["token"])
            other = _find_by_token(schema, cleaned["token"])
            if other and other != current.id:
                from basalt.core.errors import Conflict

                raise Conflict("Another installation holds this token.", details={"token": ["Already registered."]})
            data["active"] = True
        return _write(caller, schema, current, data, acl, timezone.now())


def delete_installation(caller: Caller, installation_id: Any) -> None:
    schema = schema_of(caller)
    with transaction.atomic():
        current = _owned(caller, schema, installation_id, for_update=True)
        store.delete_returning(schema.collection.pk, current.id)
        store.append_change(
            caller.project.id,
            INSTALLATIONS,
            current.id,
            ChangeLogEntry.DELETE,
            _render(schema, current),
            None,
            timezone.now(),
        )


def list_installations(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    """GET /api/v1/installations: the secret key sees all (with find's where/order/cursor), a user their own."""
    if not caller.is_secret and not caller.user_id:
        from basalt.core.errors import Unauthenticated

        raise Unauthenticated("Listing installations needs the secret key or a signed-in user.")
    installations_collection(caller.project)
    raw = {key: value for key, value in params.items() if key in ("where", "order", "limit", "cursor", "count")}
    if not caller.is_secret:
        where = raw.get("where")
        mine = {"user": caller.user_id}
        raw["where"] = {"$and": [where, mine]} if where else mine
    # The filter above scopes a user to their own devices; the listing itself runs with the
    # project's full read so the owner sees their tokens (never anyone else's).
    system = Caller(project=caller.project, key_kind="secret", key_id=caller.key_id)
    try:
        return finding.find_documents(system, INSTALLATIONS, raw)
    except InvalidQuery:
        raise


def deactivate(project: Any, installation_ids: list[str]) -> int:
    """Mark installations inactive after the provider said their token is gone.

    Through the documents service: each one becomes an ordinary update with its change-log row
    (realtime subscribers and webhooks see it), all of a batch in one read, one update batch and
    one change-log batch."""
    if not installation_ids:
        return 0

    def off(data: dict[str, Any]) -> dict[str, Any] | None:
        return {**data, "active": False} if data.get("active", True) is not False else None

    return len(documents_services.edit_documents(project, INSTALLATIONS, installation_ids, off))


def referenced_files(project_id: int, ids: list[str]) -> set[str]:
    """The ids among `ids` that File values of the project's installations name (files.sweep keeps
    them). The database passes on only installations whose custom fields spell "File" somewhere;
    the values are then read here."""
    wanted = set(ids)
    found: set[str] = set()
    rows = (
        Document.objects.filter(collection__project_id=project_id, collection__name=INSTALLATIONS)
        .annotate(custom_text=Cast(KT("data__custom"), TextField()))
        .filter(custom_text__contains='"File"')
        .values_list("data__custom", flat=True)
    )
    for fields in rows.iterator():
        for value in custom.tagged_values(fields, "File"):
            if value.get("id") in wanted:
                found.add(value["id"])
    return found
