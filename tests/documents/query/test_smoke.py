from basalt.documents.query import parse_query, run_find

from .conftest import LIMITS, add


def test_basic(coll):
    add(coll, {"title": "a", "score": 3})
    add(coll, {"title": "b", "score": 5})
    q = parse_query(coll, {"where": {"score": {"$gt": 4}}}, LIMITS)
    res = run_find(coll, q, frozenset({"*"}))
    assert [r.data["title"] for r in res.rows] == ["b"]
