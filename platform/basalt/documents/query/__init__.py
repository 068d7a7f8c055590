"""The documents query engine: parse a client's query, compile it to one SQL statement, run it.

See README.md beside this file for the semantics both databases share.
"""

from basalt.documents.query.engine import check_hidden, estimate_count, fetch_by_ids, run_count, run_find
from basalt.documents.query.nodes import DocRow, FindResult, Query
from basalt.documents.query.parser import parse_query

__all__ = [
    "DocRow",
    "FindResult",
    "Query",
    "check_hidden",
    "estimate_count",
    "fetch_by_ids",
    "parse_query",
    "run_count",
    "run_find",
]
