"""File operations for one Caller: upload, read metadata, list, change ACL or name, delete, sign URLs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from basalt.core.caller import Caller
from basalt.core.errors import InvalidQuery, ValidationFailed, body_object
from basalt.core.times import as_utc, keyset_cursor, read_keyset_cursor
from basalt.documents.store import format_time
from basalt.files import signing, thumbs
from basalt.files.access import access_file, acl_principals, initial_acl, may_upload, readable, validate_acl
from basalt.files.config import files_config
from basalt.files.ingest import Ingest
from basalt.files.models import File
from basalt.files.names import clean_name
from basalt.files.storage import get_storage

MAX_PAGE = 1000


def content_url(file_id: str) -> str:
    return f"/api/v1/files/{file_id}/content"


def render(row: File) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "url": content_url(row.id),
        "acl": row.acl,
        "created_at": format_time(row.created_at),
    }


def begin_upload(
    caller: Caller, *, name: Any, declared_type: str | None, declared_length: int | None, acl: Any = None
) -> Ingest:
    """Check who may upload and what the request promises, then open the streamed write."""
    config = files_config(caller.project)
    may_upload(caller, config)
    return Ingest(
        caller,
        config,
        name=clean_name(name),
        declared_type=declared_type,
        declared_length=declared_length,
        acl=initial_acl(caller, config, acl),
    )


def get_file(caller: Caller, file_id: str) -> dict[str, Any]:
    return render(access_file(caller, file_id))


def _cursor(row: File) -> str:
    return keyset_cursor(row.created_at, row.id)


def _uncursor(cursor: str) -> tuple[datetime, str]:
    read = read_keyset_cursor(cursor)
    if read is None:
        raise InvalidQuery("The cursor is not valid.")
    return read


def _time(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidQuery(f"`{name}` must be an RFC 3339 time.") from None
    if moment.tzinfo is None:
        raise InvalidQuery(f"`{name}` must carry a time zone (e.g. Z).")
    utc = as_utc(moment)
    if utc is None:
        raise InvalidQuery(f"`{name}` is out of range.")
    return utc


def list_files(caller: Caller, params: dict[str, str]) -> dict[str, Any]:
    """The caller's readable files, newest first, keyset-paged; filters: content_type (or `image/*`), created_*."""
    rows = readable(caller, File.objects.filter(project_id=caller.project.pk, status=File.READY))
    try:
        limit = int(params.get("limit", 100))
    except ValueError:
        raise InvalidQuery("`limit` must be an integer.") from None
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidQuery(f"`limit` must be from 1 to {MAX_PAGE}.")
    content_type = params.get("content_type")
    if content_type:
        if content_type.endswith("/*"):
            rows = rows.filter(content_type__startswith=content_type[:-1])
        else:
            rows = rows.filter(content_type=content_type)
    for name, lookup in (
        ("created_after", "created_at__gt"),
        ("created_before", "created_at__lt"),
        ("created_at_gte", "created_at__gte"),
        ("created_at_lte", "created_at__lte"),
    ):
        if name in params:  # an empty value is an error, not "no filter"
            rows = rows.filter(**{lookup: _time(params[name], name)})
    if params.get("cursor"):
        moment, last_id = _uncursor(params["cursor"])
        from django.db.models import Q

        rows = rows.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=last_id))
    page = list(rows.order_by("-created_at", "-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {"results": [render(row) for row in page], "next_cursor": _cursor(page[-1]) if more and page else None}


@transaction.atomic
def update_file(caller: Caller, file_id: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not body or set(body) - {"name", "acl"}:
        raise ValidationFailed(details={"body": ["Send an object with `name` and/or `acl`."]})
    row = access_file(caller, file_id, write=True, lock=True)
    if "name" in body:
        if not isinstance(body["name"], str):
            raise ValidationFailed(details={"name": ["Must be a string."]})
        row.name = clean_name(body["name"])
    if "acl" in body:
        row.acl = validate_acl(body["acl"])
        row.read_principals, row.write_principals = acl_principals(row.acl)
    row.save(update_fields=["name", "acl", "read_principals", "write_principals"])
    return render(row)


def delete_file(caller: Caller, file_id: str) -> None:
    with transaction.atomic():
        row = access_file(caller, file_id, write=True, lock=True)
        prefix = f"p{row.project_id}/{row.id}/"
        row.delete()
    remove_objects(prefix)


def remove_objects(prefix: str) -> None:
    """Storage objects go after the row's commit: a crash between leaves an unreferenced object
    (found by the sweep), never a row without bytes."""
    get_storage().delete_prefix(prefix)


def mint_url(caller: Caller, file_id: str, body: Any) -> dict[str, Any]:
    """A short-lived `?token=` URL for clients that cannot send headers (an <img> tag)."""
    if set(body_object(body)) - {"expires_in", "thumb", "fit"}:
        raise ValidationFailed(details={"body": ["Send an object with `expires_in` (seconds)."]})
    expires_in = body.get("expires_in", signing.DEFAULT_EXPIRES_IN)
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or not 1 <= expires_in <= signing.MAX_EXPIRES_IN:
        raise ValidationFailed(details={"expires_in": [f"Must be seconds from 1 to {signing.MAX_EXPIRES_IN}."]})
    spec = thumbs.check_spec(caller.project, body.get("thumb"), body.get("fit"))
    row = access_file(caller, file_id)
    token, expires = signing.mint(row.project_id, row.id, caller.key_id, expires_in)
    url = f"{content_url(row.id)}?token={token}"
    if spec is not None:
        # Already checked: `thumb` is WxH digits and `fit` a known word, nothing to quote.
        url += f"&thumb={body['thumb']}" + (f"&fit={body['fit']}" if body.get("fit") else "")
    return {"url": url, "expires_at": format_time(datetime.fromtimestamp(expires, UTC))}
