"""Expand pointer paths (`expand=author,author.org`): one query per path, never one per document."""

from __future__ import annotations

from typing import Any

from basalt.core.caller import Caller
from basalt.core.errors import InvalidQuery, NotFound
from basalt.documents import access
from basalt.documents.cache import Schema, schema_for
from basalt.documents.query.budget import Allowance
from basalt.documents.query.parser import not_a_pointer
from basalt.documents.render import for_caller, render

MAX_DEPTH = 3


def _all_paths(paths: list[str]) -> list[str]:
    """Each path with its prefixes (expanding a.b needs a), shallowest first."""
    wanted: set[str] = set()
    for path in paths:
        if not isinstance(path, str) or not path:
            raise InvalidQuery("expand takes field paths like author or author.org.")
        parts = path.split(".")
        if len(parts) > MAX_DEPTH:
            raise InvalidQuery(f"expand goes at most {MAX_DEPTH} levels deep.")
        for depth in range(1, len(parts) + 1):
            wanted.add(".".join(parts[:depth]))
    return sorted(wanted, key=lambda p: (p.count("."), p))


def expand_documents(
    caller: Caller, schema: Schema, docs: list[dict[str, Any]], paths: list[str], allowance: Allowance | None = None
) -> None:
    """Replace pointer ids in rendered `docs` by the target documents the caller may read, in place.

    With an `allowance`, every inlined copy is charged to it: one large target pointed at by a
    thousand documents is rendered a thousand times."""
    from basalt.documents.query import fetch_by_ids
    from basalt.documents.query.engine import row_size

    levels: dict[str, tuple[Schema, list[dict[str, Any]]]] = {"": (schema, docs)}
    for path in _all_paths(paths):
        parent_path, _, field = path.rpartition(".")
        parent_schema, parent_docs = levels[parent_path]
        spec = parent_schema.fields.get(field)
        hidden_here = access.hidden_fields(caller, parent_schema.collection)
        if spec is None or spec[0].name != "pointer" or field in hidden_here:
            # A protected pointer answers like a missing one: its existence is not revealed.
            raise not_a_pointer(field)
        try:
            target = schema_for(caller.project, spec[1]["to"])
        except NotFound:
            levels[path] = (parent_schema, [])
            continue
        ids = list(dict.fromkeys(doc[field] for doc in parent_docs if isinstance(doc.get(field), str)))
        target_collection = target.collection
        may_get = access.can_collection_op(caller, target_collection, "get")
        if not ids or not (may_get or access.pointer_grants(caller, target_collection, "get")):
            levels[path] = (target, [])
            continue
        rows = fetch_by_ids(target_collection, ids, access.read_principals(caller, target_collection), allowance)
        hidden = access.hidden_fields(caller, target_collection)
        expanded = {
            doc_id: render(target, row, access.hidden_for(caller, target_collection, doc_id, hidden))
            for doc_id, row in rows.items()
            if may_get or access.can_collection_op(caller, target_collection, "get", row.data)
        }
        for_caller(caller, target, list(expanded.values()))
        sizes = {doc_id: row_size((None, row.data, row.acl)) for doc_id, row in rows.items()}
        inlined: set[str] = set()  # fetch_by_ids already charged the first copy of each
        for doc in parent_docs:
            value = doc.get(field)
            if isinstance(value, str) and value in expanded:
                doc[field] = expanded[value]
                if allowance is not None and value in inlined:
                    allowance.spend(sizes[value])
                inlined.add(value)
        levels[path] = (target, list(expanded.values()))
