"""Objects under /classes/{Class}: Parse requests → the documents services, answers → Parse encodings."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from basalt.core.caller import Caller
from basalt.documents import cache, catalog, services
from basalt.documents.cache import Schema, project_schemas
from basalt.parse import codec, includes, names, queries
from basalt.parse.errors import OPERATION_FORBIDDEN, ParseError
from basalt.parse.request import ParseRequest
from basalt.projects.models import Project

# A class created through this face gets Parse's default class-level permissions (public) and
# default ACL (public read and write), as Parse Server gives a class created on first write.
PUBLIC_PERMISSIONS = {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")}
SETTING = "allow_client_class_creation"


def client_class_creation(project: Project) -> bool:
    section = (project.settings or {}).get("parse")
    return isinstance(section, dict) and section.get(SETTING) is True


def schema_of(caller: Caller, native: str) -> Schema | None:
    return project_schemas(caller.project).get(native)


def _refresh(project: Project) -> None:
    """The catalog bumped the schema version; the Project in hand must see it (schema cache key)."""
    project.schema_version = Project.objects.filter(pk=project.pk).values_list("schema_version", flat=True).first()


def schema_rolled_back(project: Project) -> None:
    """A rolled-back transaction took back classes or fields this face created in it: the Project in
    hand and the schemas cached under the version it bumped to are read again."""
    cache.forget(project.pk)
    _refresh(project)


def ensure_schema(caller: Caller, class_name: str, native: str, body: dict[str, Any]) -> Schema | None:
    """Create the class or its new fields when a write needs them and the caller may (Parse's
    schema-on-write): always with the master key, with a client key only when the project turned
    on client class creation. Existing fields keep their type: a mismatch is error 111 later."""
    schema = schema_of(caller, native)
    keys = tuple(body)
    if schema is not None and codec.has_fields(schema, keys):
        return schema
    existing = schema.fields if schema else {}
    missing: dict[str, dict[str, Any]] = {}
    unknown = False  # a field the schema lacks, needed or not (a Delete of it needs none)
    for key, value in body.items():
        if key in ("objectId", "createdAt", "updatedAt", "ACL"):
            continue
        field = codec.field_name(schema, key.split(".")[0])
        if field in existing:
            continue
        unknown = True
        definition = codec.infer_type(value) if "." not in key else {"type": "object"}
        if definition is not None:
            missing[field] = definition
    if schema is not None and not unknown:
        codec.note_has_fields(schema, keys)
        return schema
    if schema is not None and not missing:
        return schema
    if not (caller.is_secret or client_class_creation(caller.project)):
        if schema is None:
            raise ParseError(
                OPERATION_FORBIDDEN, f"This user is not allowed to access non-existent class: {class_name}"
            )
        return schema  # the documents service answers the unknown field
    if native in names.BUILTIN_PARSE and schema is None:
        raise ParseError(OPERATION_FORBIDDEN, f"Cannot create built-in class {class_name}.")
    with transaction.atomic():
        for target in {d["to"] for d in missing.values() if "to" in d} - {native}:
            if schema_of(caller, target) is None:
                _create_class(caller.project, target, {})
                _refresh(caller.project)
        if schema is None:
            _create_class(caller.project, native, missing)
        else:
            catalog.update_collection(caller.project, native, {"fields": missing})
    _refresh(caller.project)
    return schema_of(caller, native)


def _create_class(project: Project, native: str, fields: dict[str, Any]) -> None:
    catalog.create_collection(
        project, {"name": native, "fields": fields, "permissions": PUBLIC_PERMISSIONS, "default_acl": "public"}
    )


def _class(req: ParseRequest, class_name: str) -> tuple[str, Schema | None]:
    native = names.encode_class(class_name)
    return native, schema_of(req.caller, native)


def find(req: ParseRequest, class_name: str) -> dict[str, Any]:
    _native, schema = _class(req, class_name)
    if schema is None:
        return {"results": []}  # Parse: querying a class nobody created yet finds nothing
    return queries.run(req.caller, schema, req.params)


def get(req: ParseRequest, class_name: str, object_id: str) -> dict[str, Any]:
    native, schema = _class(req, class_name)
    if schema is None:
        raise ParseError(101, "Object not found.")
    params = req.params
    wanted = {k: params[k] for k in ("keys", "include") if k in params}
    raw = queries.build(req.caller, schema, wanted)[0] if wanted else {}
    result = services.get_document(
        req.caller, native, object_id, fields=set(raw["fields"]) if "fields" in raw else None, expand=raw.get("expand")
    )
    out = codec.doc_to_parse(schema, result.body, req.caller.project)
    for path in raw.get("include_arrays", []):
        includes.apply(req.caller, [out], path)
    return out


def create(req: ParseRequest, class_name: str) -> tuple[dict[str, Any], dict[str, str]]:
    native = names.encode_class(class_name)
    body = req.data
    schema = ensure_schema(req.caller, class_name, native, body)
    result = services.create_document(req.caller, native, codec.body_to_native(schema, body))
    out = {"objectId": result.body["id"], "createdAt": result.body["created_at"]}
    out.update(_op_results(schema, body, result.body, req.caller))
    return out, {"Location": f"/parse/classes/{class_name}/{result.body['id']}"}


def update(req: ParseRequest, class_name: str, object_id: str) -> dict[str, Any]:
    native = names.encode_class(class_name)
    body = req.data
    schema = ensure_schema(req.caller, class_name, native, body)
    if schema is None:
        raise ParseError(101, "Object not found.")
    result = services.update_document(req.caller, native, object_id, codec.body_to_native(schema, body))
    out = {"updatedAt": result.body["updated_at"]}
    out.update(_op_results(schema, body, result.body, req.caller))
    return out


def _op_results(schema: Schema | None, body: dict[str, Any], written: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """Parse answers a write with the results of its operations (the incremented value, the array)."""
    out: dict[str, Any] = {}
    if schema is None:
        return out
    rendered = None
    for key, value in body.items():
        if isinstance(value, dict) and value.get("__op") in ("Increment", "Add", "AddUnique", "Remove"):
            if rendered is None:
                rendered = codec.doc_to_parse(schema, written, caller.project, relations=False)
            expand_on_path(out, key.split("."), rendered)
    return out


def expand_on_path(out: dict[str, Any], path: list[str], rendered: Any) -> None:
    """`stats.wins` answers as {"stats": {"wins": 2}}, as Parse Server does."""
    if not isinstance(rendered, dict) or path[0] not in rendered:
        return
    if len(path) == 1:
        out[path[0]] = rendered[path[0]]
        return
    inner = out.setdefault(path[0], {})
    if isinstance(inner, dict):
        expand_on_path(inner, path[1:], rendered[path[0]])


def delete(req: ParseRequest, class_name: str, object_id: str) -> dict[str, Any]:
    native, schema = _class(req, class_name)
    if schema is None:
        raise ParseError(101, "Object not found.")
    services.delete_document(req.caller, native, object_id)
    return {}
