"""Collection permissions and document ACLs through the one decision point (access.py)."""

from __future__ import annotations

import pytest

from basalt.core.caller import Caller
from basalt.core.errors import NotFound, PermissionDenied
from tests.documents.conftest import key_client

DOCS = "/api/v1/collections/notes/documents"


def _caller(project, user=None, roles=(), kind="publishable"):
    return Caller(project=project, key_kind=kind, key_id="key_test", user_id=user, roles=frozenset(roles))


@pytest.fixture
def notes(project, secret_client):
    body = {
        "name": "notes",
        "fields": {
            "text": {"type": "string"},
            "owner": {"type": "pointer", "to": "notes"},
            "secret": {"type": "string"},
        },
        "permissions": {
            "get": ["*"],
            "find": ["*"],
            "count": ["*"],
            "create": ["authenticated"],
            "update": ["pointer:owner", "role:mod"],
            "delete": ["user:boss"],
        },
        "protected_fields": {"*": ["secret"], "role:mod": []},
        "default_acl": "owner_write_public_read",
    }
    assert secret_client.post("/api/v1/schema/collections", body, format="json").status_code == 201
    return project.project


@pytest.mark.django_db
def test_create_needs_authenticated_and_applies_default_acl(project, notes):
    from basalt.documents import services

    with pytest.raises(PermissionDenied):
        services.create_document(_caller(notes), "notes", {"text": "x"})
    doc = services.create_document(_caller(notes, "u1"), "notes", {"text": "x", "owner": "u1", "secret": "s"}).body
    assert doc["acl"] == {"*": {"read": True}, "u1": {"read": True, "write": True}}
    assert "secret" not in doc  # protected from `*`
    as_mod = services.get_document(_caller(notes, "u2", roles={"mod"}), "notes", doc["id"]).body
    assert as_mod["secret"] == "s"  # a more specific entry reveals it
    as_secret = services.get_document(_caller(notes, kind="secret"), "notes", doc["id"]).body
    assert as_secret["secret"] == "s"


@pytest.mark.django_db
def test_default_acl_without_creator_has_no_owner(notes, secret_client):
    doc = secret_client.post(DOCS, {"text": "x"}, format="json").json()
    assert doc["acl"] == {"*": {"read": True}}


@pytest.mark.django_db
def test_pointer_and_role_update_rules(notes):
    from basalt.documents import services

    doc = services.create_document(
        _caller(notes, "u1"), "notes", {"text": "x", "owner": "u1", "acl": {"*": {"read": True, "write": True}}}
    ).body
    assert services.update_document(_caller(notes, "u1"), "notes", doc["id"], {"text": "y"}).body["text"] == "y"
    with pytest.raises(PermissionDenied):  # readable, collection rule refuses: 403
        services.update_document(_caller(notes, "u2"), "notes", doc["id"], {"text": "z"})
    assert services.update_document(_caller(notes, "u3", roles={"mod"}), "notes", doc["id"], {"text": "m"}).version == 3
    with pytest.raises(PermissionDenied):
        services.delete_document(_caller(notes, "u1"), "notes", doc["id"])
    services.delete_document(_caller(notes, "boss"), "notes", doc["id"])
    with pytest.raises(NotFound):
        services.get_document(_caller(notes), "notes", doc["id"])


@pytest.mark.django_db
def test_acl_read_write(notes, secret_client):
    """Unreadable → 404 (existence not leaked); readable but not writable → 403; writes change nothing."""
    from basalt.documents import services

    private = services.create_document(
        _caller(notes, "u1"), "notes", {"text": "p", "acl": {"u1": {"read": True, "write": True}}}
    ).body
    with pytest.raises(NotFound):
        services.get_document(_caller(notes, "u2"), "notes", private["id"])
    with pytest.raises(NotFound):
        services.update_document(_caller(notes, "u2", roles={"mod"}), "notes", private["id"], {"text": "hack"})
    readonly = services.create_document(_caller(notes, "u1"), "notes", {"text": "r", "acl": {"*": {"read": True}}}).body
    with pytest.raises(PermissionDenied):
        services.update_document(_caller(notes, "u2", roles={"mod"}), "notes", readonly["id"], {"text": "hack"})
    assert secret_client.get(f"{DOCS}/{private['id']}").json()["text"] == "p"
    assert secret_client.get(f"{DOCS}/{readonly['id']}").json()["text"] == "r"
    role_doc = services.create_document(
        _caller(notes, "u1"), "notes", {"text": "q", "acl": {"role:mod": {"read": True}}}
    )
    assert services.get_document(_caller(notes, "u9", roles={"mod"}), "notes", role_doc.body["id"]).body["text"] == "q"
    with pytest.raises(NotFound):
        services.get_document(_caller(notes, "u9", roles={"other"}), "notes", role_doc.body["id"])


@pytest.mark.django_db
def test_publishable_key_is_the_star_principal(project, notes, secret_client):
    public = secret_client.post(DOCS, {"text": "pub", "acl": {"*": {"read": True}}}, format="json").json()
    hidden = secret_client.post(DOCS, {"text": "hid", "acl": {}}, format="json").json()
    pk = key_client(project.publishable)
    assert pk.get(f"{DOCS}/{public['id']}").status_code == 200
    assert pk.get(f"{DOCS}/{hidden['id']}").status_code == 404
    assert pk.get(f"{DOCS}/{hidden['id']}").json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("principal", ["*", "role:admin", "authenticated"])
def test_principal_names_cannot_be_document_ids(pk, principal):
    """Ids are minted, never taken from the client, so no document can be named like a principal."""
    response = pk.post("/api/v1/collections/posts/documents", {"title": "t", "id": principal}, format="json")
    assert response.status_code == 400


def test_access_unit_rules():
    from basalt.documents.access import acl_principals, can_collection_op, default_acl, read_principals
    from basalt.documents.models import Collection

    collection = Collection(name="c", permissions={"get": ["pointer:owner"], "find": []})
    user = Caller(project=None, key_kind="publishable", key_id="k", user_id="u1")
    assert can_collection_op(user, collection, "get", {"owner": "u1"})
    assert can_collection_op(user, collection, "get", {"owner": ["u0", "u1"]})
    assert not can_collection_op(user, collection, "get", {"owner": "u2"})
    assert not can_collection_op(user, collection, "get")
    assert not can_collection_op(user, collection, "find")
    assert not can_collection_op(user, collection, "delete")
    secret = Caller(project=None, key_kind="secret", key_id="k")
    assert can_collection_op(secret, collection, "delete")
    assert read_principals(secret, collection) is None
    assert read_principals(user, collection) == frozenset({"*", "authenticated", "u1"})
    assert default_acl("owner", Caller(project=None, key_kind="publishable", key_id="k")) == {}
    assert acl_principals({"*": {"read": True}, "u1": {"read": True, "write": True}}) == (["*", "u1"], ["u1"])
