"""Per-subscriber access for realtime: the REST answer (permissions, ACL, protected fields) on change rows.

Every decision is delegated to `basalt.documents.access`, the one decision point; this module only
applies it to the rendered documents that the change log carries. One `Viewer` is computed per
distinct caller and collection, so a change costs one ACL decision per principal set, not per
subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from basalt.core.caller import Caller
from basalt.core.errors import PermissionDenied
from basalt.documents import access
from basalt.documents.cache import Schema

SYSTEM_KEYS = ("id", "created_at", "updated_at", "acl")


def caller_key(caller: Caller) -> tuple:
    """Callers with equal keys see exactly the same documents and fields."""
    return (caller.key_kind, caller.user_id, caller.roles)


@dataclass(frozen=True)
class Viewer:
    caller: Caller
    schema: Schema
    direct: bool  # the collection's `find` allows this caller outright
    pointer_fields: tuple[str, ...]  # else: only documents whose pointer fields name the caller
    hidden: frozenset[str]

    def sees(self, doc: dict[str, Any] | None, data: dict[str, Any] | None) -> bool:
        """Would a REST find by this caller return this (rendered) document?"""
        if doc is None:
            return False
        readers, _ = access.acl_principals(doc.get("acl") or {})
        if not access.can_read(self.caller, readers):
            return False
        if self.direct:
            return True
        return access.can_collection_op(self.caller, self.schema.collection, "find", data or {})

    def present(self, doc: dict[str, Any], only: frozenset[str] | None) -> dict[str, Any]:
        """The document exactly as REST renders it for this caller: current schema, hidden and `fields` applied."""
        hidden = access.hidden_for(self.caller, self.schema.collection, doc["id"], self.hidden)
        out = {key: doc[key] for key in SYSTEM_KEYS if key in doc}
        for name, (field_type, _options) in self.schema.fields.items():
            if name in hidden or name not in doc or not field_type.stored_in_data:
                continue
            if only is not None and name not in only:
                continue
            out[name] = doc[name]
        return out


def viewer_for(caller: Caller, schema: Schema) -> Viewer:
    """The caller's view of a collection, or permission_denied when `find` is not granted at all."""
    collection = schema.collection
    direct = access.can_collection_op(caller, collection, "find")
    pointers = () if direct else tuple(access.pointer_grants(caller, collection, "find"))
    if not direct and not pointers:
        raise PermissionDenied(f"This key may not find documents of {collection.name!r}.")
    return Viewer(caller, schema, direct, pointers, access.hidden_fields(caller, collection))


def stored_form(schema: Schema, doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The matcher's input from a rendered document: system fields plus data in stored form.

    Rendering changes only files (`{"id", "url"}` for the stored id); everything else is stored as shown.
    """
    if doc is None:
        return None
    data: dict[str, Any] = {}
    for name, (field_type, options) in schema.fields.items():
        if name not in doc or not field_type.stored_in_data:
            continue
        value = doc[name]
        if field_type.name == "file":
            value = _file_id(value)
        elif field_type.name == "array" and _items_type(options) == "file" and isinstance(value, list):
            value = [_file_id(item) for item in value]
        data[name] = value
    return {"id": doc.get("id"), "created_at": doc.get("created_at"), "updated_at": doc.get("updated_at"), "data": data}


def _file_id(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


def _items_type(options: dict[str, Any]) -> str | None:
    items = options.get("items")
    return items.get("type") if isinstance(items, dict) else items
