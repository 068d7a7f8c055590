"""The built-in `installations` collection: every push device as a document the data API can query.

Installations are written only by this area (`installations.py`): `POST /api/v1/installations`
upserts by token, the owner or the secret key patches and deletes. The documents API refuses to
create, delete or change their built-in fields (`basalt.documents.builtin`), `token` stays
protected from every caller but the secret key, and the collection starts locked (secret key
only); a developer may open it to signed-in users, whose ACL then shows them their own devices.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from basalt.core.errors import Conflict
from basalt.documents import catalog
from basalt.documents.models import Collection
from basalt.projects.models import Project

INSTALLATIONS = "installations"
PLATFORMS = ("android", "ios", "web")
PROVIDERS = ("fcm", "apns", "webpush")
BUILTIN_FIELDS: dict[str, dict[str, Any]] = {
    "platform": {"type": "string", "choices": list(PLATFORMS)},
    "provider": {"type": "string", "choices": list(PROVIDERS)},
    "token": {"type": "string", "max_length": 2048},
    "channels": {"type": "array", "items": "string"},
    "locale": {"type": "string", "max_length": 35},
    "timezone": {"type": "string", "max_length": 64},
    "app_version": {"type": "string", "max_length": 64},
    "badge": {"type": "number", "min": 0},
    "user": {"type": "pointer", "to": "users"},
    "active": {"type": "boolean"},
    # App-defined fields (Parse apps' own `_Installation` keys): see `custom.py`.
    "custom": {"type": "object"},
}
DEFINITION: dict[str, Any] = {
    "name": INSTALLATIONS,
    "fields": BUILTIN_FIELDS,
    # Locked: the secret key queries devices; a developer may open reads (the token stays hidden).
    "permissions": {},
    "protected_fields": {"*": ["token"]},
    "default_acl": "owner",
    # Upsert by token and audience filters by channel look these up.
    "indexes": [{"fields": ["token"]}],
}


def add_custom_field(collection: Collection) -> bool:
    """Declare `custom` on an installations collection made before it existed; True if it changed."""
    fields = dict(collection.fields or {})
    if "custom" in fields:
        return False
    fields["custom"] = {**BUILTIN_FIELDS["custom"], "builtin": True}
    collection.fields = fields
    collection.save(update_fields=["fields"])
    return True


def _add_custom(project: Project) -> Collection:
    from basalt.documents import cache

    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)
        collection = Collection.objects.select_for_update().get(project=project, name=INSTALLATIONS)
        if add_custom_field(collection):
            Project.objects.filter(pk=project.pk).update(schema_version=F("schema_version") + 1)
            project.refresh_from_db(fields=["schema_version"])
            transaction.on_commit(lambda: cache.forget(project.pk))
    return collection


def installations_collection(project: Project) -> Collection:
    """The project's `installations` collection, created on first need (a concurrent creator just wins)."""
    existing = Collection.objects.filter(project=project, name=INSTALLATIONS).first()
    if existing is not None:
        if "custom" not in (existing.fields or {}):
            return _add_custom(project)  # made before custom fields existed (or restored from then)
        return existing
    try:
        with transaction.atomic():
            catalog.create_collection(project, DEFINITION, builtin=True)
            collection = Collection.objects.select_for_update().get(project=project, name=INSTALLATIONS)
            collection.fields = {
                name: {**definition, "builtin": True} if name in BUILTIN_FIELDS else definition
                for name, definition in collection.fields.items()
            }
            collection.save(update_fields=["fields"])
    except Conflict:
        pass
    return Collection.objects.get(project=project, name=INSTALLATIONS)
