"""The built-in `roles` collection: each Role mirrored as a document, membership as relation edges.

Role tables stay the source of truth (they feed the per-request role computation); every role
write rewrites the role's document (name, ACL = the role's ACL) and its `users` / `roles`
relation edges in the same transaction, so clients can `find` roles they may read and query
members with `$related_to` through the documents area's one decision point.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from basalt.core.errors import Conflict
from basalt.documents import access, catalog, store
from basalt.documents.cache import build_schema
from basalt.documents.models import ChangeLogEntry, Collection, Relation
from basalt.identity.models import Role
from basalt.projects.models import Project

ROLES = "roles"
BUILTIN_ROLE_FIELDS: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "max_length": 63},
    "users": {"type": "relation", "to": "users"},
    "roles": {"type": "relation", "to": "roles"},
}
ROLES_DEFINITION: dict[str, Any] = {
    "name": ROLES,
    "fields": BUILTIN_ROLE_FIELDS,
    # Reading is decided per role by its ACL; writes go through /api/v1/roles only.
    "permissions": {"get": ["*"], "find": ["*"], "count": ["*"]},
    "default_acl": "owner",
}


def roles_collection(project: Project) -> Collection:
    existing = Collection.objects.filter(project=project, name=ROLES).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            catalog.create_collection(project, ROLES_DEFINITION, builtin=True)
            collection = Collection.objects.select_for_update().get(project=project, name=ROLES)
            collection.fields = {name: {**d, "builtin": True} for name, d in collection.fields.items()}
            collection.save(update_fields=["fields"])
    except Conflict:
        pass
    return Collection.objects.get(project=project, name=ROLES)


def sync_role(role: Role) -> None:
    """Write the role's document (name and ACL) with a change-log row; call inside the role write."""
    collection = roles_collection(role.project)
    schema = build_schema(collection)
    readers, writers = access.acl_principals(role.acl)
    now = timezone.now()
    current = store.fetch(collection.id, role.doc_id, for_update=True)
    if current is None:
        doc = store.StoredDoc(
            id=role.doc_id,
            data={"name": role.name},
            acl=role.acl,
            read_principals=readers,
            write_principals=writers,
            created_by=None,
            created_at=role.created_at,
            updated_at=now,
            version=1,
        )
        store.insert(doc, role.project_id, collection.id)
        store.append_change(
            role.project_id, ROLES, role.doc_id, ChangeLogEntry.CREATE, None, render_row(schema, doc), now
        )
        return
    before = render_row(schema, current)
    current.data, current.acl = {"name": role.name}, role.acl
    current.read_principals, current.write_principals = readers, writers
    current.version += 1
    current.updated_at = now
    store.update(current, collection.id)
    store.append_change(
        role.project_id, ROLES, role.doc_id, ChangeLogEntry.UPDATE, before, render_row(schema, current), now
    )


def render_row(schema, doc) -> dict[str, Any]:
    from basalt.documents.render import render

    return render(schema, doc)


def add_user_edges(role: Role, user_ids: list[str]) -> None:
    store.add_relations(role.project_id, roles_collection(role.project).id, "users", role.doc_id, user_ids)


def remove_user_edge(role: Role, user_id: str) -> None:
    store.remove_relations(roles_collection(role.project).id, "users", role.doc_id, [user_id])


def add_role_edges(role: Role, children: list[Role]) -> None:
    collection = roles_collection(role.project)
    store.add_relations(role.project_id, collection.id, "roles", role.doc_id, [c.doc_id for c in children])


def remove_role_edge(role: Role, child_doc_id: str) -> None:
    store.remove_relations(roles_collection(role.project).id, "roles", role.doc_id, [child_doc_id])


def delete_role(role: Role) -> None:
    """Drop the role's document, its own edges and every edge that lists it as a child."""
    collection = Collection.objects.filter(project_id=role.project_id, name=ROLES).first()
    if collection is None:
        return
    doc = store.delete_returning(collection.id, role.doc_id)
    store.remove_all_relations(collection.id, role.doc_id)
    Relation.objects.filter(collection=collection, field="roles", to_id=role.doc_id).delete()
    if doc is not None:
        store.append_change(
            role.project_id,
            ROLES,
            role.doc_id,
            ChangeLogEntry.DELETE,
            render_row(build_schema(collection), doc),
            None,
            timezone.now(),
        )


def forget_user(project: Project, user_id: str) -> None:
    """A deleted user leaves every role's `users` relation."""
    collection = Collection.objects.filter(project=project, name=ROLES).first()
    if collection is not None:
        Relation.objects.filter(collection=collection, field="users", to_id=user_id).delete()
