"""Parse roles (`/roles`, `/classes/_Role`) over Basalt's roles service and `roles` documents."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from basalt.identity import roles as service
from basalt.identity.models import Role
from basalt.parse import codec, names, objects
from basalt.parse.errors import INCORRECT_TYPE, INVALID_ROLE_NAME, OBJECT_NOT_FOUND, ParseError
from basalt.parse.request import ParseRequest


def _named(doc: dict[str, Any]) -> dict[str, Any]:
    if isinstance(doc.get("name"), str):
        doc["name"] = names.decode_role(doc["name"])
    return doc


def _where_names(params: dict[str, Any]) -> dict[str, Any]:
    """Role names are stored in Basalt's spelling; a `name` constraint is translated to it."""
    from basalt.parse.queries import _json

    where = _json(params.get("where"), "where") if params.get("where") else None
    if isinstance(where, dict) and "name" in where:
        value = where["name"]
        if isinstance(value, str):
            where = {**where, "name": names.encode_role(value)}
        elif isinstance(value, dict) and isinstance(value.get("$in"), list):
            where = {**where, "name": {**value, "$in": [names.encode_role(v) for v in value["$in"]]}}
        return {**params, "where": where}
    return params


def find(req: ParseRequest) -> dict[str, Any]:
    req.params = _where_names(req.params)
    result = objects.find(req, "_Role")
    result["results"] = [_named(doc) for doc in result.get("results", [])]
    return result


def get(req: ParseRequest, object_id: str) -> dict[str, Any]:
    return _named(objects.get(req, "_Role", object_id))


def _role_name(req: ParseRequest, object_id: Any) -> str:
    name = (
        Role.objects.filter(project=req.caller.project, doc_id=object_id).values_list("name", flat=True).first()
        if isinstance(object_id, str)
        else None
    )
    if name is None:
        raise ParseError(OBJECT_NOT_FOUND, "Object not found.")
    return name


def _relation_ids(value: Any, op: str) -> list[str]:
    if not isinstance(value, dict) or value.get("__op") != op or not isinstance(value.get("objects"), list):
        raise ParseError(INCORRECT_TYPE, f"Expected {op}.")
    return [codec.to_native(o) for o in value["objects"]]


def _changes(value: Any) -> list[tuple[str, list[str]]]:
    """A relation change, plain or inside a Parse `Batch` op: [(AddRelation|RemoveRelation, ids)]."""
    if isinstance(value, dict) and value.get("__op") == "Batch" and isinstance(value.get("ops"), list):
        return [change for op in value["ops"] for change in _changes(op)]
    if isinstance(value, dict) and value.get("__op") in ("AddRelation", "RemoveRelation"):
        return [(value["__op"], _relation_ids(value, value["__op"]))]
    raise ParseError(INCORRECT_TYPE, "users and roles change with AddRelation / RemoveRelation.")


def create(req: ParseRequest) -> tuple[dict[str, Any], dict[str, str]]:
    body = req.data
    raw_name = body.get("name")
    if not isinstance(raw_name, str):
        raise ParseError(INVALID_ROLE_NAME, "Role names must be a string.")
    native: dict[str, Any] = {"name": names.encode_role(raw_name)}
    if "ACL" in body:
        native["acl"] = codec.acl_to_native(body["ACL"])
    unknown = set(body) - {"name", "ACL", "users", "roles", "objectId", "createdAt", "updatedAt"}
    if unknown:
        raise ParseError(INCORRECT_TYPE, f"Roles take name, ACL, users and roles, not {sorted(unknown)[0][:40]}.")
    with transaction.atomic():
        role = service.create_role(req.caller, native)
        _apply(req, role["name"], body)
    return {"objectId": role["id"], "createdAt": role["created_at"]}, {"Location": f"/parse/roles/{role['id']}"}


def _apply(req: ParseRequest, name: str, body: dict[str, Any]) -> None:
    for kind, change in (("users", body.get("users")), ("roles", body.get("roles"))):
        if change is None:
            continue
        for op, ids in _changes(change):
            if kind == "users":
                if op == "AddRelation":
                    service.add_users(req.caller, name, ids)
                else:
                    for user_id in ids:
                        service.remove_user(req.caller, name, user_id)
            else:
                child_names = [_role_name(req, i) for i in ids]
                if op == "AddRelation":
                    service.add_roles(req.caller, name, child_names)
                else:
                    for child in child_names:
                        service.remove_role(req.caller, name, child)


def update(req: ParseRequest, object_id: str) -> dict[str, Any]:
    body = req.data
    if "name" in body:
        raise ParseError(136, "A role's name can only be set before it has been saved.")
    with transaction.atomic():
        name = _role_name(req, object_id)
        if "ACL" in body:
            service.update_role(req.caller, name, {"acl": codec.acl_to_native(body["ACL"])})
        _apply(req, name, body)
        updated = (
            Role.objects.filter(project=req.caller.project, name=name).values_list("updated_at", flat=True).first()
        )
    from basalt.core.times import iso

    return {"updatedAt": iso(updated)}


def delete(req: ParseRequest, object_id: str) -> dict[str, Any]:
    service.delete_role(req.caller, _role_name(req, object_id))
    return {}
