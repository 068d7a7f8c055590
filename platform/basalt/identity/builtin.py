"""The built-in `users` collection: every EndUser mirrored as a document the data API can query.

EndUser rows stay the source of truth (passwords, sessions, flags); each write to one rewrites
its `users` document in the same transaction, with a change-log entry, so `find`, `get`,
`expand` and realtime on `users` go through the documents area's one decision point. `email`,
`email_verified` and `is_anonymous` are protected from every non-secret caller but the user
themself (the owner rule in `basalt.documents.access.hidden_for`), and the documents API can
never write identity fields (`basalt.documents.builtin`). Custom user fields are declared on
the `users` schema and validated with the documents field types.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from basalt.core.errors import Conflict
from basalt.documents import catalog, store
from basalt.documents.cache import Schema, build_schema
from basalt.documents.models import ChangeLogEntry, Collection
from basalt.documents.render import render
from basalt.identity.models import EndUser
from basalt.projects.models import Project

USERS = "users"
BUILTIN_USER_FIELDS: dict[str, dict[str, Any]] = {
    "email": {"type": "string", "max_length": 254},
    "username": {"type": "string", "max_length": 32},
    "email_verified": {"type": "boolean"},
    "is_anonymous": {"type": "boolean"},
}
PROTECTED_USER_FIELDS = ["email", "email_verified", "is_anonymous"]
USERS_DEFINITION: dict[str, Any] = {
    "name": USERS,
    "fields": BUILTIN_USER_FIELDS,
    # Signed-in users may look each other up (the ACL below allows it); writes go through /auth.
    "permissions": {"get": ["authenticated"], "find": ["authenticated"], "count": ["authenticated"]},
    "protected_fields": {"*": PROTECTED_USER_FIELDS},
    "default_acl": "owner_write_public_read",
}


def users_collection(project: Project) -> Collection:
    """The project's `users` collection, created on first need (a concurrent creator just wins)."""
    existing = Collection.objects.filter(project=project, name=USERS).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            catalog.create_collection(project, USERS_DEFINITION, builtin=True)
            collection = Collection.objects.select_for_update().get(project=project, name=USERS)
            # Flag ours so the schema API refuses to remove them (documents.catalog honours it).
            collection.fields = {
                name: {**definition, "builtin": True} if name in BUILTIN_USER_FIELDS else definition
                for name, definition in collection.fields.items()
            }
            collection.save(update_fields=["fields"])
    except Conflict:
        pass
    return Collection.objects.get(project=project, name=USERS)


def users_schema(project: Project) -> Schema:
    return build_schema(users_collection(project))


def identity_fields(user: EndUser) -> dict[str, Any]:
    own = {
        "email": user.email,
        "username": user.username,
        "email_verified": user.email_verified,
        "is_anonymous": user.is_anonymous,
    }
    return {k: v for k, v in own.items() if v is not None}


def _custom(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in BUILTIN_USER_FIELDS}


def custom_fields(user: EndUser) -> dict[str, Any]:
    """The user's custom fields: the `users` document is their source of truth."""
    collection = Collection.objects.filter(project_id=user.project_id, name=USERS).only("id").first()
    doc = store.fetch(collection.id, user.id) if collection is not None else None
    return _custom(doc.data) if doc is not None else dict(user.data or {})


def sync_user(user: EndUser, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the user's `users` document in the caller's transaction, with a change-log row.

    Identity fields come from the EndUser row; custom fields are the document's own (so a
    secret-key edit through the documents API survives), with `changes` applied (None removes).
    Returns the custom fields now stored."""
    project = user.project
    schema = users_schema(project)
    collection = schema.collection
    now = timezone.now()
    current = store.fetch(collection.id, user.id, for_update=True)
    custom = _custom(current.data) if current is not None else {}
    for name, value in (changes or {}).items():
        if value is None:
            custom.pop(name, None)
        else:
            custom[name] = value
    data = {**custom, **identity_fields(user)}
    if current is None:
        acl = {"*": {"read": True}, user.id: {"read": True, "write": True}}
        doc = store.StoredDoc(
            id=user.id,
            data=data,
            acl=acl,
            read_principals=sorted(["*", user.id]),
            write_principals=[user.id],
            created_by=user.id,
            created_at=user.created_at,
            updated_at=now,
            version=1,
        )
        store.insert(doc, project.id, collection.id)
        store.append_change(project.id, USERS, user.id, ChangeLogEntry.CREATE, None, render(schema, doc), now)
        return custom
    before = render(schema, current)
    current.data = data
    current.version += 1
    current.updated_at = now
    store.update(current, collection.id)
    store.append_change(project.id, USERS, user.id, ChangeLogEntry.UPDATE, before, render(schema, current), now)
    return custom


# What a deleted user's change-log copies keep: enough for a consumer replaying the log to see
# that a document existed and went away (and who could read it), nothing the user wrote.
_KEPT_AFTER_ERASURE = ("id", "created_at", "updated_at", "acl")


def remove_user(project: Project, user_id: str) -> None:
    """Delete the user's `users` document and erase their personal data from its change log."""
    collection = Collection.objects.filter(project=project, name=USERS).first()
    if collection is None:
        return
    doc = store.delete_returning(collection.id, user_id)
    store.remove_all_relations(collection.id, user_id)
    if doc is not None:
        store.append_change(
            project.id,
            USERS,
            user_id,
            ChangeLogEntry.DELETE,
            _erased(render(build_schema(collection), doc)),
            None,
            timezone.now(),
        )
    _erase_history(project, user_id)


def _erased(copy: dict[str, Any] | None) -> dict[str, Any] | None:
    if copy is None:
        return None
    return {key: copy[key] for key in _KEPT_AFTER_ERASURE if key in copy}


def _erase_history(project: Project, user_id: str) -> None:
    """Strip every earlier change-log copy of the user's document (email, username, custom fields)."""
    rows = list(
        ChangeLogEntry.objects.filter(project=project, collection=USERS, document_id=user_id).only(
            "pk", "before", "after"
        )
    )
    for row in rows:
        row.before, row.after = _erased(row.before), _erased(row.after)
    ChangeLogEntry.objects.bulk_update(rows, ["before", "after"], batch_size=500)
