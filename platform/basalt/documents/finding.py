"""find and count (API.md §3) through the query engine, with permissions and ACLs applied in SQL."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from basalt.core.caller import Caller
from basalt.core.errors import InvalidQuery, PermissionDenied
from basalt.documents import access, statistics, store
from basalt.documents.cache import project_schemas, schema_for
from basalt.documents.expand import expand_documents
from basalt.documents.query import budget
from basalt.documents.render import for_caller, render
from basalt.projects.project_settings import DEFAULTS

QUERY_KEYS = frozenset({"where", "order", "limit", "cursor", "fields", "expand", "count"})


def project_limits(project) -> dict[str, int]:
    stored = (project.settings or {}).get("limits")
    return {**DEFAULTS["limits"], **stored} if isinstance(stored, dict) else dict(DEFAULTS["limits"])


def _restrict_to_pointers(raw: dict[str, Any], fields: list[str], user_id: str) -> dict[str, Any]:
    """A `pointer:<field>` grant lets a user find only the documents whose field points at them."""
    mine: dict[str, Any] = {fields[0]: user_id} if len(fields) == 1 else {"$or": [{f: user_id} for f in fields]}
    where = raw.get("where")
    return {**raw, "where": {"$and": [where, mine]} if where else mine}


def _allow(caller: Caller, collection, op: str, raw: dict[str, Any]) -> dict[str, Any]:
    if access.can_collection_op(caller, collection, op):
        return raw
    grants = access.pointer_grants(caller, collection, op)
    if not grants:
        raise PermissionDenied(f"This key may not {op} documents of {collection.name!r}.")
    return _restrict_to_pointers(raw, grants, caller.user_id)


def _source_readable(caller: Caller, node: Any) -> bool:
    """May the caller read the `$related_to` source's relation field (collection rules, protection)?

    The document's own ACL is checked in SQL by the compiler with the same principals."""
    source = project_schemas(caller.project).get(node.collection)
    if source is None:
        return False
    collection = source.collection
    if node.field in access.hidden_fields(caller, collection):
        return False
    if access.can_collection_op(caller, collection, "get") or access.can_collection_op(caller, collection, "find"):
        return True
    if not access.pointer_grants(caller, collection, "get"):
        return False
    # Readable only through a pointer grant: the document's data decides (one indexed lookup).
    doc = store.fetch(collection.id, node.id)
    return doc is not None and access.can_collection_op(caller, collection, "get", doc.data)


def _guard_related(caller: Caller, node: Any) -> Any:
    """Replace each `$related_to` whose source the caller may not read by a clause matching nothing.

    Nothing, not an error: the same answer as for a document that does not exist, so neither the
    edges nor the existence of an unreadable document can be probed (also under `$nor`)."""
    from basalt.documents.query.nodes import And, Nor, Or, RelatedTo

    if isinstance(node, RelatedTo):
        return node if _source_readable(caller, node) else Or(())
    if isinstance(node, And | Or | Nor):
        return type(node)(tuple(_guard_related(caller, child) for child in node.children))
    return node


def _prepare(caller: Caller, name: Any, raw: Any):
    """Check and parse a find or count: (schema, op, query, principals, hidden), permissions applied."""
    from basalt.documents.query import parse_query

    schema = schema_for(caller.project, name)
    collection = schema.collection
    if not isinstance(raw, dict):
        raise InvalidQuery("The query must be a JSON object.")
    unknown = set(raw) - QUERY_KEYS
    if unknown:
        raise InvalidQuery(f"Unknown query parameter {str(sorted(unknown)[0])[:40]!r}.")
    limit = raw.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidQuery("`limit` must be an integer.")
    counting = raw.get("count") is True
    # `limit: 0` with `count: true` is a pure count, which the `count` permission alone allows.
    op = "count" if counting and raw.get("limit") == 0 else "find"
    raw = _allow(caller, collection, op, raw)
    if counting and op == "find":
        raw = _allow(caller, collection, "count", raw)
    if op == "count":
        # A page size means nothing to a pure count; the engine wants a valid one.
        raw = {key: value for key, value in raw.items() if key not in ("limit", "cursor")}
    hidden = access.hidden_fields(caller, collection)
    query = parse_query(collection, raw, project_limits(caller.project), hidden)
    if query.where is not None and not caller.is_secret:
        query.where = _guard_related(caller, query.where)
    return schema, op, query, access.read_principals(caller, collection), hidden


def count_within(caller: Caller, name: Any, where: Any, timeout_ms: int) -> tuple[int | None, bool]:
    """Count what `where` matches for this caller, giving up after `timeout_ms`: (count, exact).

    For a view that must stay fast on a large collection (the console's "page 3 of 11"): past the
    time, PostgreSQL's planner estimate is returned with exact=False; SQLite has none (None, False).
    Permissions and errors are those of `count`."""
    from basalt.documents.query import estimate_count, run_count

    schema, _, query, principals, hidden = _prepare(caller, name, {"where": where, "count": True, "limit": 0})
    with budget.capped(timeout_ms):
        try:
            # A savepoint: on PostgreSQL a cancelled statement would fail the caller's transaction.
            with transaction.atomic():
                return run_count(schema.collection, query, principals, hidden, budget.for_query()), True
        except InvalidQuery as exc:
            if not (isinstance(exc.details, dict) and exc.details.get("reason") == "timeout"):
                raise
    return estimate_count(schema.collection, query, principals), False


def find_documents(caller: Caller, name: Any, raw: Any) -> dict[str, Any]:
    from basalt.documents.query import run_count, run_find

    schema, op, query, principals, hidden = _prepare(caller, name, raw)
    collection = schema.collection
    allowance = budget.for_query()
    if op == "count":
        count = run_count(collection, query, principals, hidden, allowance)
        statistics.note_count(collection.id)
        return {"results": [], "next_cursor": None, "count": count}
    result = run_find(collection, query, principals, hidden, allowance)
    if query.count:
        statistics.note_count(collection.id)
    only = set(query.fields) if query.fields else None
    docs = [render(schema, row, access.hidden_for(caller, collection, row.id, hidden), only) for row in result.rows]
    for_caller(caller, schema, docs)
    if query.expand:
        expand_documents(caller, schema, docs, list(query.expand), allowance)
    out: dict[str, Any] = {"results": docs, "next_cursor": result.next_cursor}
    if result.count is not None:
        out["count"] = result.count
    return out
