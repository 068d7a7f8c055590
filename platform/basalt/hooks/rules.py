"""Which changes an endpoint wants: event names, collections, and an optional `where` on one collection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from basalt.core.errors import BasaltError
from basalt.documents.cache import schema_for
from basalt.documents.finding import project_limits
from basalt.documents.query.nodes import Node
from basalt.documents.query.parser import parse_query
from basalt.hooks.changelog import Change
from basalt.hooks.models import Endpoint
from basalt.realtime import matcher
from basalt.realtime.visibility import stored_form


def parse_where(project: Any, collection: str, where: Any):
    """The `where` as the find parser reads it against the collection's schema (raises invalid_query)."""
    schema = schema_for(project, collection)
    query = parse_query(schema.collection, {"where": where}, project_limits(project))
    operator = matcher.unsupported(query.where)
    return schema, query.where, operator


@dataclass
class EndpointRules:
    endpoint: Endpoint
    schema: Any = None
    where: Node | None = None
    broken: bool = False  # the `where` no longer parses (a field was removed): nothing matches it

    def wants(self, event: str, change: Change | None) -> bool:
        e = self.endpoint
        if event not in e.events:
            return False
        if change is None or not event.startswith("documents."):
            return True
        if e.collections and change.collection not in e.collections:
            return False
        if e.where is None:
            return True
        if self.broken:
            return False
        # An update matches when the document matched before or after it (it entered or left the filter).
        return any(
            doc is not None and matcher.matches(self.where, stored_form(self.schema, doc))
            for doc in (change.after, change.before)
        )


def rules_for(endpoint: Endpoint) -> EndpointRules:
    rules = EndpointRules(endpoint)
    if endpoint.where is not None and endpoint.collections:
        try:
            rules.schema, rules.where, operator = parse_where(endpoint.project, endpoint.collections[0], endpoint.where)
            rules.broken = operator is not None
        except BasaltError:
            rules.broken = True
    return rules
