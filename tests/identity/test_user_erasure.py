"""Issue 8 #9: deleting a user erases their personal data, the change log's copies included."""

from __future__ import annotations

import json

import pytest

from basalt.documents.models import ChangeLogEntry, Relation
from basalt.identity.models import EndUser, OneTimeToken, RoleMember, Session

from .conftest import PASSWORD, key_client


@pytest.mark.parametrize("how", ["self", "secret_key"])
def test_regression_deleted_user_leaves_no_personal_data_in_the_change_log(project, signup, profile_fields, how):
    user = signup(email="erase.me@example.com", username="erase_me", nickname="Secret Nick")
    assert user.client.patch("/api/v1/auth/me", {"bio": "lives at 1 Main St"}, format="json").status_code == 200
    assert user.client.patch("/api/v1/auth/me", {"username": "erase_me2"}, format="json").status_code == 200
    # A verification code (it stores the address) and a role membership.
    assert (
        key_client(project.publishable)
        .post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
        .status_code
        == 202
    )
    secret = key_client(project.secret)
    assert secret.post("/api/v1/roles", {"name": "members"}, format="json").status_code == 201
    assert secret.post("/api/v1/roles/members/users", {"ids": [user.id]}, format="json").status_code in (200, 204)
    history = ChangeLogEntry.objects.filter(collection="users", document_id=user.id)
    assert "Secret Nick" in json.dumps([[row.before, row.after] for row in history])

    if how == "self":
        response = user.client.delete("/api/v1/auth/me", {"current_password": PASSWORD}, format="json")
    else:
        response = secret.delete(f"/api/v1/auth/users/{user.id}")
    assert response.status_code == 204, response.content

    # On PostgreSQL rows are numbered after commit, so inside this test's transaction every seq is
    # still NULL and "order by seq" leaves them in heap order (which the erasure's rewrite moves);
    # the row id is the insert order there, and the seq order once numbered.
    rows = list(ChangeLogEntry.objects.filter(collection="users", document_id=user.id).order_by("seq", "id"))
    assert [row.type for row in rows][-1] == "delete" and len(rows) >= 4
    dumped = json.dumps([[row.before, row.after] for row in rows])
    for personal in ("erase.me@example.com", "erase_me", "Secret Nick", "1 Main St"):
        assert personal not in dumped
    assert all(
        set(copy) <= {"id", "created_at", "updated_at", "acl"}
        for row in rows
        for copy in (row.before, row.after)
        if copy
    )
    assert rows[-1].before["id"] == user.id
    # Siblings: nothing else keeps the account around.
    assert not EndUser.objects.filter(pk=user.id).exists()
    assert not Session.objects.filter(user_id=user.id).exists()
    assert not OneTimeToken.objects.filter(email="erase.me@example.com").exists()
    assert not RoleMember.objects.filter(user_id=user.id).exists()
    assert not Relation.objects.filter(to_id=user.id).exists() and not Relation.objects.filter(from_id=user.id).exists()


def test_other_users_change_log_is_untouched_by_a_deletion(project, signup):
    keep, gone = signup(email="keep@example.com"), signup(email="gone@example.com")
    key_client(project.secret).delete(f"/api/v1/auth/users/{gone.id}")
    created = ChangeLogEntry.objects.get(collection="users", document_id=keep.id, type="create")
    assert created.after["email"] == "keep@example.com"
