"""Generated authorization matrix (T2): callers × operations × document ACLs × collection permissions.

Every cell is checked against `Reference`, a deliberately small evaluator of API.md §2–3: the
status, the visible fields, the set of documents a find/count sees, and, for every refused write,
that the document is unchanged and no change-log row was written.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from basalt.core.caller import Caller
from basalt.documents import catalog, services
from basalt.documents.models import ChangeLogEntry, Document

from .conftest import bearer_client, key_client

ACLS = {
    "owner": lambda ids: {ids["owner"]: {"read": True, "write": True}},
    "public_read": lambda ids: {"*": {"read": True}, ids["owner"]: {"read": True, "write": True}},
    "staff": lambda ids: {"role:staff": {"read": True, "write": True}},
    "signed_in": lambda ids: {"authenticated": {"read": True, "write": True}},
    "nobody": lambda ids: {},
}
PERMISSIONS = {
    "open": lambda ids: {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")},
    "signed_in": lambda ids: {op: ["authenticated"] for op in ("get", "find", "count", "create", "update", "delete")},
    "staff": lambda ids: {op: ["role:staff"] for op in ("get", "find", "count", "create", "update", "delete")},
    "locked": lambda ids: {},
    "mixed": lambda ids: {
        "get": ["*"],
        "find": ["*"],
        "count": ["authenticated"],
        "create": ["authenticated"],
        "update": [f"user:{ids['owner']}"],
        "delete": ["role:staff"],
    },
}
CALLERS = ("anonymous", "owner", "other", "staff_member", "junior_member", "secret", "foreign")
PROTECTED = {"*": ["note"], "role:staff": []}


@dataclass
class Who:
    name: str
    client: object
    user_id: str | None = None
    roles: frozenset = frozenset()
    secret: bool = False
    foreign: bool = False
    principals: set = field(default_factory=set)


class Reference:
    """The rules as a reader of API.md would state them, independent of the implementation."""

    @staticmethod
    def principals(who: Who) -> set[str]:
        names = {"*"}
        if who.user_id:
            names |= {"authenticated", who.user_id, f"user:{who.user_id}"}
        names |= {f"role:{r}" for r in who.roles}
        return names

    @classmethod
    def op_allowed(cls, who: Who, permissions: dict, op: str) -> bool:
        return who.secret or bool(cls.principals(who) & set(permissions.get(op, [])))

    @classmethod
    def can(cls, who: Who, acl: dict, right: str) -> bool:
        return who.secret or any(acl.get(p, {}).get(right) for p in cls.principals(who))

    @classmethod
    def hidden(cls, who: Who) -> set[str]:
        if who.secret:
            return set()
        lists = [set(names) for principal, names in PROTECTED.items() if principal in cls.principals(who)]
        return set.intersection(*lists) if lists else set()

    @classmethod
    def read_status(cls, who, permissions, acl) -> int:
        if not cls.op_allowed(who, permissions, "get"):
            return 403
        return 200 if acl is not None and cls.can(who, acl, "read") else 404

    @classmethod
    def write_status(cls, who, permissions, acl, op) -> int:
        if not cls.op_allowed(who, permissions, op):
            return 403
        if acl is None:
            return 404
        if cls.can(who, acl, "write"):
            return 204 if op == "delete" else 200
        return 403 if cls.can(who, acl, "read") else 404


@pytest.fixture
def world(project, make_project, signup):
    """Project A with owner/other/staff/junior users and roles; project B with a foreign user."""
    admin = key_client(project.secret)
    owner, other, staff, junior = signup(), signup(), signup(), signup()
    assert admin.post("/api/v1/roles", {"name": "staff", "users": [staff.id]}, format="json").status_code == 201
    assert admin.post("/api/v1/roles", {"name": "juniors", "users": [junior.id]}, format="json").status_code == 201
    # Parse semantics: juniors listed in staff.roles → every junior holds staff.
    assert admin.post("/api/v1/roles/staff/roles", {"names": ["juniors"]}, format="json").status_code == 200
    foreign_project = make_project()
    foreign_user = signup(key=foreign_project.publishable)
    ids = {"owner": owner.id}
    who = {
        "anonymous": Who("anonymous", key_client(project.publishable)),
        "owner": Who("owner", owner.client, owner.id),
        "other": Who("other", other.client, other.id),
        "staff_member": Who("staff_member", staff.client, staff.id, frozenset({"staff"})),
        "junior_member": Who("junior_member", junior.client, junior.id, frozenset({"staff", "juniors"})),
        "secret": Who("secret", key_client(project.secret), secret=True),
        "foreign": Who(
            "foreign", bearer_client(foreign_project.publishable, foreign_user.access), foreign_user.id, foreign=True
        ),
    }
    return {"project": project, "foreign": foreign_project, "ids": ids, "who": who}


def _collection(project, name: str, permissions: dict) -> None:
    catalog.create_collection(
        project,
        {
            "name": name,
            "fields": {"title": {"type": "string"}, "note": {"type": "string"}},
            "permissions": permissions,
            "protected_fields": PROTECTED,
        },
    )


def _doc(project, collection: str, acl: dict) -> str:
    secret = Caller(project=project, key_kind="secret", key_id="test")
    return services.create_document(secret, collection, {"title": "t", "note": "n", "acl": acl}).body["id"]


@pytest.mark.parametrize("perm_name", list(PERMISSIONS))
def test_authorization_matrix(world, perm_name):
    project, foreign = world["project"].project, world["foreign"].project
    permissions = PERMISSIONS[perm_name](world["ids"])
    for target in (project, foreign):
        _collection(target, "notes", permissions)
    docs = {acl_name: _doc(project, "notes", make(world["ids"])) for acl_name, make in ACLS.items()}
    acls = {acl_name: make(world["ids"]) for acl_name, make in ACLS.items()}
    ref, mismatches = Reference, []

    def check(cell, got, want):
        if got != want:
            mismatches.append(f"{cell}: got {got}, want {want}")

    for who in world["who"].values():
        # get + visible fields
        for acl_name, doc_id in docs.items():
            response = who.client.get(f"/api/v1/collections/notes/documents/{doc_id}")
            acl = None if who.foreign else acls[acl_name]
            check((who.name, "get", acl_name), response.status_code, ref.read_status(who, permissions, acl))
            if response.status_code == 200:
                check((who.name, "get-fields", acl_name), "note" in response.json(), "note" not in ref.hidden(who))
        # find and count: exactly the readable documents, counted truly
        visible = set() if who.foreign else {d for a, d in docs.items() if ref.can(who, acls[a], "read")}
        response = who.client.get("/api/v1/collections/notes/documents", {"limit": 1000})
        want = 200 if ref.op_allowed(who, permissions, "find") else 403
        check((who.name, "find"), response.status_code, want)
        if response.status_code == 200:
            check((who.name, "find-ids"), {r["id"] for r in response.json()["results"]}, visible)
        response = who.client.get("/api/v1/collections/notes/documents", {"count": "true", "limit": 0})
        want = 200 if ref.op_allowed(who, permissions, "count") else 403
        check((who.name, "count"), response.status_code, want)
        if response.status_code == 200:
            check((who.name, "count-n"), response.json()["count"], len(visible))
    # create (after every read, so new rows do not change what the reads expect)
    for who in world["who"].values():
        before = Document.objects.count()
        response = who.client.post("/api/v1/collections/notes/documents", {"title": "new"}, format="json")
        want = 201 if ref.op_allowed(who, permissions, "create") else 403
        check((who.name, "create"), response.status_code, want)
        check((who.name, "create-rows"), Document.objects.count() - before, 1 if want == 201 else 0)

    # update / delete / batch update on fresh documents, one per cell
    for who, op, acl_name in itertools.product(world["who"].values(), ("update", "delete", "batch"), ACLS):
        doc_id = _doc(project, "notes", acls[acl_name])
        row_before = Document.objects.values("data", "version").get(pk=doc_id)
        log_before = ChangeLogEntry.objects.count()
        path = f"/api/v1/collections/notes/documents/{doc_id}"
        if op == "update":
            status = who.client.patch(path, {"title": "changed"}, format="json").status_code
        elif op == "delete":
            status = who.client.delete(path).status_code
        else:
            response = who.client.post(
                "/api/v1/batch",
                {"requests": [{"method": "PATCH", "path": path, "body": {"title": "batched"}}]},
                format="json",
            )
            status = response.json()["results"][0]["status"] if response.status_code == 200 else response.status_code
        acl = None if who.foreign else acls[acl_name]
        want = ref.write_status(who, permissions, acl, "delete" if op == "delete" else "update")
        check((who.name, op, acl_name), status, want)
        if want >= 400:
            row_after = Document.objects.filter(pk=doc_id).values("data", "version").first()
            check((who.name, op, acl_name, "unchanged"), row_after, row_before)
            check((who.name, op, acl_name, "no-log"), ChangeLogEntry.objects.count(), log_before)
    assert not mismatches, "\n".join(mismatches[:40])


def test_token_of_project_b_with_key_of_project_a_is_refused_everywhere(world):
    """API.md §1: a token of another project used with this project's key is 401 invalid_token."""
    project = world["project"]
    foreign_token = world["who"]["foreign"].client._credentials["HTTP_AUTHORIZATION"]
    client = key_client(project.publishable)
    client.credentials(HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION=foreign_token)
    _collection(project.project, "notes", PERMISSIONS["open"](world["ids"]))
    for method, path in (
        ("get", "/api/v1/collections/notes/documents"),
        ("post", "/api/v1/collections/notes/documents"),
        ("get", "/api/v1/auth/me"),
        ("post", "/api/v1/batch"),
    ):
        response = getattr(client, method)(path, {}, format="json") if method == "post" else client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "invalid_token"
    assert not Document.objects.filter(collection__name="notes").exists()
