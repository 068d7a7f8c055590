"""`include` through arrays of pointers (`include=players`, `players.team`, `team.players`).

Parse keeps an array of pointers as its Pointer JSON (codec.to_native leaves list elements as
they are), which the native `expand` (pointer fields only) does not follow. Paths made of pointer
fields only stay native expands; a path with an array anywhere is resolved here, on the Parse-form
results, one find per class and level through the documents service as the caller (ACL, CLP and
protected fields are the service's: what the caller may not read stays a Pointer, as Parse leaves
a pointer to a missing object). The work is bounded: at most MAX_OBJECTS distinct objects per level
of a path and MAX_DEPTH levels, else error 102."""

from __future__ import annotations

from typing import Any

from basalt.core.caller import Caller
from basalt.documents import finding
from basalt.documents.cache import Schema, project_schemas
from basalt.parse import codec, names
from basalt.parse.errors import INVALID_QUERY, ParseError

MAX_OBJECTS = 1000
MAX_OCCURRENCES = 10_000  # inlined copies per level (one object in many arrays is copied each time)
MAX_DEPTH = 3


def needs_face(caller: Caller, schema: Schema, path: list[str]) -> bool:
    """Whether an include path (Parse segments) crosses an array field before it ends."""
    schemas = project_schemas(caller.project)
    current: Schema | None = schema
    for segment in path:
        if current is None:
            return False
        spec = current.fields.get(names.resolve(segment, current.fields))
        if spec is None:
            return False
        if spec[0].name == "array":
            return True
        if spec[0].name != "pointer":
            return False
        current = schemas.get(spec[1].get("to", ""))
    return False


def apply(caller: Caller, objects: list[dict[str, Any]], path: list[str]) -> None:
    """Replace the pointers along `path` in Parse-form `objects` by the objects, in place."""
    if len(path) > MAX_DEPTH:
        raise ParseError(INVALID_QUERY, f"include goes at most {MAX_DEPTH} levels deep.")
    level = objects
    for segment in path:
        level = _expand_level(caller, level, segment)
        if not level:
            return


def _expand_level(caller: Caller, objects: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Inline the pointers found under `key` (a pointer or an array of them); the objects now there."""
    wanted: dict[str, dict[str, None]] = {}
    occurrences = 0
    for obj in objects:
        for item in _items(obj.get(key)):
            occurrences += 1
            if item.get("__type") == "Pointer":
                wanted.setdefault(item["className"], {})[item["objectId"]] = None
    if occurrences > MAX_OCCURRENCES or sum(len(ids) for ids in wanted.values()) > MAX_OBJECTS:
        raise ParseError(
            INVALID_QUERY, f"include of {key[:64]} would inline more than {MAX_OBJECTS} objects; use a smaller limit."
        )
    found: dict[tuple[str, str], dict[str, Any]] = {}
    schemas = project_schemas(caller.project)
    for class_name, ids in wanted.items():
        native = names.encode_class(class_name)
        target = schemas.get(native)
        if target is None:
            continue
        where = {"id": {"$in": list(ids)}}
        result = finding.find_documents(caller, native, {"where": where, "limit": len(ids)})
        for doc in result["results"]:
            parsed = codec.doc_to_parse(target, doc, caller.project)
            found[(class_name, doc["id"])] = {"__type": "Object", "className": class_name, **parsed}
    reached: list[dict[str, Any]] = []
    for obj in objects:
        value = obj.get(key)
        if isinstance(value, list):
            obj[key] = [_swap(item, found, reached) for item in value]
        elif isinstance(value, dict):
            obj[key] = _swap(value, found, reached)
    return reached


def _items(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [
        item
        for item in items
        if isinstance(item, dict)
        and item.get("__type") in ("Pointer", "Object")
        and isinstance(item.get("className"), str)
        and isinstance(item.get("objectId"), str)
    ]


def _swap(item: Any, found: dict[tuple[str, str], dict[str, Any]], reached: list[dict[str, Any]]) -> Any:
    if not _items(item):
        return item
    if item["__type"] == "Object":  # already inlined (a native expand, or an earlier path)
        reached.append(item)
        return item
    obj = found.get((item["className"], item["objectId"]))
    if obj is None:
        return item
    # A fresh copy per occurrence: the next level must not edit an object shared by two arrays twice.
    obj = dict(obj)
    reached.append(obj)
    return obj
