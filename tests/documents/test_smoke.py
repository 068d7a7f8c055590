def test_create_get_patch_delete(pk):
    r = pk.post("/api/v1/collections/posts/documents", {"title": "hi", "tags": ["a"]}, format="json")
    assert r.status_code == 201, r.content
    doc = r.json()
    assert doc["title"] == "hi" and doc["score"] == 0
    r = pk.get(f"/api/v1/collections/posts/documents/{doc['id']}")
    assert r.status_code == 200, r.content
    r = pk.patch(
        f"/api/v1/collections/posts/documents/{doc['id']}", {"score": {"__op": "increment", "by": 2}}, format="json"
    )
    assert r.status_code == 200, r.content
    assert r.json()["score"] == 2
    r = pk.get("/api/v1/collections/posts/documents", {"where": '{"score": 2}'})
    assert r.status_code == 200, r.content
    assert [d["id"] for d in r.json()["results"]] == [doc["id"]]
    r = pk.delete(f"/api/v1/collections/posts/documents/{doc['id']}")
    assert r.status_code == 204, r.content
