"""T22 face parity: the same authorization cells through /api/v1 and /parse/ (SECURITY.md).

Callers × collection permissions × document ACLs × operations, each cell run through both faces
and reduced to one outcome (allowed with these fields / hidden / refused); protected fields and
filtering on them (the hidden-field oracle) are compared the same way."""

from __future__ import annotations

import itertools

import pytest
from rest_framework.test import APIClient

from basalt.parse import names
from tests.parse.conftest import ParseClient

pytestmark = pytest.mark.django_db(transaction=True)

PERMISSIONS = {
    "open": {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")},
    "members": {op: ["authenticated"] for op in ("get", "find", "count", "update", "delete")}
    | {"create": ["authenticated"]},
    "editors": {
        "get": ["role:editors"],
        "find": ["role:editors"],
        "count": ["role:editors"],
        "create": [],
        "update": ["role:editors"],
        "delete": [],
    },
    "locked": {},
}
ACLS = {
    "public": lambda ids: {"*": {"read": True, "write": True}},
    "alice": lambda ids: {ids["alice"]: {"read": True, "write": True}},
    "editors_read": lambda ids: {"role:editors": {"read": True}, ids["alice"]: {"read": True, "write": True}},
    "read_only": lambda ids: {"*": {"read": True}},
}
CALLERS = ("anonymous", "alice", "bob", "carol", "secret")
PASSWORD = "correct horse battery"


def native_outcome(response) -> tuple:
    status = response.status_code
    if status in (200, 201):
        body = response.json()
        if "count" in body:
            return ("ok", body["count"])
        if "results" in body:
            return ("ok", sorted(d["id"] for d in body["results"]), sorted(sorted(d) for d in body["results"]))
        return ("ok", sorted(body))
    if status == 204:
        return ("ok",)
    return {404: ("hidden",), 403: ("denied",), 401: ("unauthenticated",), 400: ("invalid",)}[status], ()


def parse_outcome(response) -> tuple:
    body = response.json()
    if response.status_code == 200:
        if "results" in body and "count" not in body:
            fields = [
                sorted(names.encode(k) for k in d if names.encode(k) not in ("id",)) + ["id"] for d in body["results"]
            ]
            return ("ok", sorted(d["objectId"] for d in body["results"]), sorted(sorted(f) for f in fields))
        if "count" in body:
            return ("ok", body["count"])
        if "objectId" in body:
            return ("ok", sorted(["id", *(names.encode(k) for k in body if k != "objectId")]))
        return ("ok",)
    code = body.get("code")
    return {101: ("hidden",), 119: ("denied",), 209: ("unauthenticated",), 102: ("invalid",)}[code], ()


def _norm(outcome):
    # Parse's write answers carry only updatedAt; compare writes by their kind of outcome.
    return outcome[0] if isinstance(outcome[0], str) else outcome[0][0]


@pytest.fixture
def world(project):
    secret = APIClient()
    secret.credentials(HTTP_X_API_KEY=project.secret)
    ids, native, parse = {}, {}, {}
    for name in ("alice", "bob", "carol"):
        api = APIClient()
        api.credentials(HTTP_X_API_KEY=project.publishable)
        body = api.post("/api/v1/auth/signup", {"username": name, "password": PASSWORD}, format="json").json()
        ids[name] = body["user"]["id"]
        api.credentials(HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
        native[name] = api
        client = ParseClient(project.project.ref, rest_key=project.publishable)
        client.token = client.post("login", {"username": name, "password": PASSWORD}).json()["sessionToken"]
        parse[name] = client
    anonymous = APIClient()
    anonymous.credentials(HTTP_X_API_KEY=project.publishable)
    native["anonymous"], native["secret"] = anonymous, secret
    parse["anonymous"] = ParseClient(project.project.ref, rest_key=project.publishable)
    parse["secret"] = ParseClient(project.project.ref, master_key=project.secret)
    assert secret.post("/api/v1/roles", {"name": "editors", "users": [ids["bob"]]}, format="json").status_code == 201
    for variant, permissions in PERMISSIONS.items():
        definition = {
            "name": f"notes_{variant}",
            "fields": {"title": {"type": "string"}, "secret_note": {"type": "string"}},
            "permissions": permissions,
            "protected_fields": {"*": ["secret_note"], "role:editors": []},
        }
        assert secret.post("/api/v1/schema/collections", definition, format="json").status_code == 201
    return ids, native, parse, secret


def _doc(secret, collection: str, acl: dict) -> str:
    body = {"title": "t", "secret_note": "s", "acl": acl}
    answer = secret.post(f"/api/v1/collections/{collection}/documents", body, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()["id"]


def test_authorization_matrix_is_the_same_through_both_faces(world):
    ids, native, parse, secret = world
    mismatches, kinds = [], set()
    for variant, acl_name in itertools.product(PERMISSIONS, ACLS):
        collection = f"notes_{variant}"
        class_name = names.decode_class(collection)
        acl = ACLS[acl_name](ids)
        doc = _doc(secret, collection, acl)
        for who in CALLERS:
            n, p = native[who], parse[who]
            cells = {
                "get": (
                    native_outcome(n.get(f"/api/v1/collections/{collection}/documents/{doc}")),
                    parse_outcome(p.get(f"classes/{class_name}/{doc}")),
                ),
                "find": (
                    native_outcome(n.get(f"/api/v1/collections/{collection}/documents", {"where": '{"title": "t"}'})),
                    parse_outcome(p.get(f"classes/{class_name}", {"where": {"title": "t"}})),
                ),
                "count": (
                    native_outcome(n.get(f"/api/v1/collections/{collection}/documents", {"count": "true", "limit": 0})),
                    parse_outcome(p.get(f"classes/{class_name}", {"count": 1, "limit": 0})),
                ),
                "oracle": (
                    native_outcome(
                        n.get(f"/api/v1/collections/{collection}/documents", {"where": '{"secret_note": "s"}'})
                    ),
                    parse_outcome(p.get(f"classes/{class_name}", {"where": {"secretNote": "s"}})),
                ),
                "update": (
                    native_outcome(
                        n.patch(f"/api/v1/collections/{collection}/documents/{doc}", {"title": "t"}, format="json")
                    ),
                    parse_outcome(p.put(f"classes/{class_name}/{doc}", {"title": "t"})),
                ),
            }
            pair = (_doc(secret, collection, acl), _doc(secret, collection, acl))
            cells["delete"] = (
                native_outcome(n.delete(f"/api/v1/collections/{collection}/documents/{pair[0]}")),
                parse_outcome(p.delete(f"classes/{class_name}/{pair[1]}")),
            )
            for op, (a, b) in cells.items():
                kinds.add(_norm(a))
                same = (_norm(a), a[1:] if op in ("get", "find", "count", "oracle") else ()) == (
                    _norm(b),
                    b[1:] if op in ("get", "find", "count", "oracle") else (),
                )
                if op in ("find", "oracle", "get") and _norm(a) == "ok":
                    # find/get answers list the documents (equal ids) and each one's visible fields.
                    same = a == b
                if not same:
                    mismatches.append((variant, acl_name, who, op, a, b))
            # Delete's leftovers are removed so that find results stay one document per cell.
            for leftover in pair:
                secret.delete(f"/api/v1/collections/{collection}/documents/{leftover}")
        secret.delete(f"/api/v1/collections/{collection}/documents/{doc}")
    assert mismatches == [], "\n".join(map(str, mismatches[:20]))
    assert kinds == {"ok", "hidden", "denied", "invalid"}  # the matrix is not vacuous
