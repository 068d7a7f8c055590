"""Numbers in query strings are ASCII digits: `str.isdigit()` accepts '¹' and '٣', and `int('¹')` raised a 500."""

from __future__ import annotations

import pytest

POSTS = {"name": "posts", "fields": {"title": {"type": "string"}}}


@pytest.mark.django_db
@pytest.mark.parametrize("limit", ["\u00b9", "\u00b2\u00b3", "\u0663"])
def test_a_limit_of_non_ascii_digits_is_a_400(secret_client, limit):
    assert secret_client.post("/api/v1/schema/collections", POSTS, format="json").status_code == 201
    answer = secret_client.get("/api/v1/collections/posts/documents", {"limit": limit})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_query"
