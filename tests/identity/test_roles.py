"""Roles: the secret-key API, inheritance to any depth without loops, ACL-guarded membership."""

from __future__ import annotations

import pytest

from basalt.identity.models import Role, RoleInheritance, RoleMember
from basalt.identity.roles import held_roles

from .conftest import key_client


@pytest.fixture
def admin(project):
    return key_client(project.secret)


def _create(admin, name, **body):
    response = admin.post("/api/v1/roles", {"name": name, **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _roles_of(project, user) -> set[str]:
    return held_roles(project.project, user.id)


def test_secret_key_manages_roles(project, admin, signup):
    user = signup()
    created = _create(admin, "moderators", users=[user.id])
    assert created["users"] == [user.id] and created["roles"] == []
    assert admin.get("/api/v1/roles").json()["results"][0]["name"] == "moderators"
    renamed = admin.patch("/api/v1/roles/moderators", {"name": "mods"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "mods"
    assert _roles_of(project, user) == {"mods"}
    assert admin.delete("/api/v1/roles/mods").status_code == 204
    assert admin.get("/api/v1/roles/mods").status_code == 404
    assert _roles_of(project, user) == set()


def test_role_membership_reaches_the_caller_on_the_next_request(project, admin, signup):
    """The bearer resolver computes roles per request: adding and removing act at once."""
    from basalt.projects.caller import resolve_caller

    user = signup()
    _create(admin, "editors")
    admin.post("/api/v1/roles/editors/users", {"ids": [user.id]}, format="json")

    class Req:
        META = {"HTTP_X_API_KEY": project.publishable, "HTTP_AUTHORIZATION": f"Bearer {user.access}"}

    caller = resolve_caller(Req())
    assert "role:editors" in caller.principals and user.id in caller.principals
    assert admin.delete(f"/api/v1/roles/editors/users/{user.id}").status_code == 204
    assert "role:editors" not in resolve_caller(Req()).principals


def test_inheritance_to_any_depth_follows_parse_semantics(project, admin, signup):
    """Role R's `roles` lists roles whose members inherit R: admins ⊂ moderators ⊂ … ⊂ r0."""
    user = signup()
    depth = 12
    for level in range(depth):
        _create(admin, f"r{level}")
    for level in range(depth - 1):
        assert (
            admin.post(f"/api/v1/roles/r{level}/roles", {"names": [f"r{level + 1}"]}, format="json").status_code == 200
        )
    admin.post(f"/api/v1/roles/r{depth - 1}/users", {"ids": [user.id]}, format="json")
    assert _roles_of(project, user) == {f"r{level}" for level in range(depth)}
    # A member of the top role does not inherit the child roles.
    top = signup()
    admin.post("/api/v1/roles/r0/users", {"ids": [top.id]}, format="json")
    assert _roles_of(project, top) == {"r0"}


def test_loops_are_refused_at_any_length(project, admin):
    for name in ("a", "b", "c"):
        _create(admin, name)
    assert admin.post("/api/v1/roles/a/roles", {"names": ["b"]}, format="json").status_code == 200
    assert admin.post("/api/v1/roles/b/roles", {"names": ["c"]}, format="json").status_code == 200
    for parent, child in (("c", "a"), ("b", "a"), ("a", "a")):
        response = admin.post(f"/api/v1/roles/{parent}/roles", {"names": [child]}, format="json")
        assert response.status_code == 400, (parent, child)
    assert RoleInheritance.objects.count() == 2


def test_held_roles_terminates_even_if_a_loop_were_stored(project, admin, signup):
    """Defence in depth: the recursive query uses UNION, so a loop written behind our back ends."""
    user = signup()
    _create(admin, "x", users=[user.id])
    _create(admin, "y")
    x, y = Role.objects.get(name="x"), Role.objects.get(name="y")
    RoleInheritance.objects.create(parent=y, child=x)
    RoleInheritance.objects.create(parent=x, child=y)
    assert _roles_of(project, user) == {"x", "y"}


def test_roles_are_per_project(project, make_project, admin, signup):
    other = make_project()
    user = signup()
    _create(key_client(other.secret), "staff")
    response = admin.post("/api/v1/roles/staff/users", {"ids": [user.id]}, format="json")
    assert response.status_code == 404
    foreign_user = signup(key=other.publishable)
    _create(admin, "staff")
    bad = admin.post("/api/v1/roles/staff/users", {"ids": [foreign_user.id]}, format="json")
    assert bad.status_code == 400
    assert RoleMember.objects.count() == 0


def test_role_escalation_by_writing_membership_directly_is_refused(project, admin, signup):
    """T6 regression: a signed-in user cannot add themself (or a friend) to a role they may not write."""
    attacker = signup()
    _create(admin, "admins", acl={"*": {"read": True}})
    _create(admin, "hidden")
    for path, body in (
        ("/api/v1/roles/admins/users", {"ids": [attacker.id]}),
        ("/api/v1/roles/hidden/users", {"ids": [attacker.id]}),
        ("/api/v1/roles", {"name": "admins2", "users": [attacker.id]}),
    ):
        response = attacker.client.post(path, body, format="json")
        assert response.status_code in (403, 404), path
    assert (
        attacker.client.patch(
            "/api/v1/roles/admins", {"acl": {attacker.id: {"write": True}}}, format="json"
        ).status_code
        == 403
    )
    # Nesting a role the attacker holds under admins needs write on admins too.
    _create(admin, "mine", users=[attacker.id], acl={attacker.id: {"read": True, "write": True}})
    assert attacker.client.post("/api/v1/roles/admins/roles", {"names": ["mine"]}, format="json").status_code == 403
    assert attacker.client.post("/api/v1/roles/mine/roles", {"names": ["admins"]}, format="json").status_code == 200
    # ...which makes admins' members hold `mine`, never the attacker hold `admins`.
    assert _roles_of(project, attacker) == {"mine"}
    assert not RoleMember.objects.filter(role__name__in=["admins", "hidden"]).exists()


def test_role_acl_write_lets_a_moderator_manage_membership(project, admin, signup):
    lead, member = signup(), signup()
    _create(admin, "leads", users=[lead.id])
    _create(admin, "team", acl={"role:leads": {"read": True, "write": True}})
    assert lead.client.post("/api/v1/roles/team/users", {"ids": [member.id]}, format="json").status_code == 200
    assert _roles_of(project, member) == {"team"}
    assert member.client.delete(f"/api/v1/roles/team/users/{member.id}").status_code == 404  # unreadable to member
    assert lead.client.delete(f"/api/v1/roles/team/users/{member.id}").status_code == 204
    assert lead.client.delete("/api/v1/roles/team").status_code == 403  # deletion stays secret-key only


def test_readable_role_but_not_writable_is_403(project, admin, signup):
    user = signup()
    _create(admin, "public", acl={"*": {"read": True}})
    assert user.client.get("/api/v1/roles/public").status_code == 200
    response = user.client.post("/api/v1/roles/public/users", {"ids": [user.id]}, format="json")
    assert response.status_code == 403
    assert key_client(project.publishable).get("/api/v1/roles").status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Bad Name"},
        {"name": "1abc"},
        {"name": "a" * 64},
        {"name": 5},
        {},
        {"name": "ok", "acl": []},
        {"name": "ok", "acl": {"role:BAD": {"read": True}}},
        {"name": "ok", "acl": {"*": {"read": "yes"}}},
        {"name": "ok", "acl": {"*": {"admin": True}}},
        {"name": "ok", "users": "abc"},
        {"name": "ok", "users": ["nobody"]},
        {"name": "ok", "roles": ["missing"]},
        {"name": "ok", "id": 5},
        {"name": "ok", "created_at": "2020-01-01"},
    ],
)
def test_hostile_role_bodies_are_400(admin, body):
    response = admin.post("/api/v1/roles", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_failed"
    assert not Role.objects.exists()


def test_duplicate_role_is_409(admin):
    _create(admin, "dup")
    response = admin.post("/api/v1/roles", {"name": "dup"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "unique_violation"


def test_unreadable_roles_cannot_be_nested_or_probed(project, admin, signup):
    user = signup()
    _create(admin, "mine", acl={user.id: {"read": True, "write": True}})
    _create(admin, "secret-role")
    response = user.client.post("/api/v1/roles/mine/roles", {"names": ["secret-role"]}, format="json")
    missing = user.client.post("/api/v1/roles/mine/roles", {"names": ["no-such-role"]}, format="json")
    assert response.status_code == missing.status_code == 400
    assert not RoleInheritance.objects.exists()


def test_regression_write_only_role_acl_shows_nothing_of_the_role(project, admin, signup):
    """Issue 8 #2 in identity: a caller who may change membership but not read the role sees none of it."""
    writer, secret_member, newcomer = signup(), signup(), signup()
    _create(admin, "staff", users=[secret_member.id], acl={writer.id: {"write": True}})
    assert writer.client.get("/api/v1/roles/staff").status_code == 404
    added = writer.client.post("/api/v1/roles/staff/users", {"ids": [newcomer.id]}, format="json")
    assert added.status_code == 204, added.content
    assert added.content == b""
    assert secret_member.id.encode() not in added.content
    _create(admin, "juniors2", acl={writer.id: {"read": True}})
    nested = writer.client.post("/api/v1/roles/staff/roles", {"names": ["juniors2"]}, format="json")
    assert nested.status_code == 204 and nested.content == b""
    assert RoleMember.objects.filter(role__name="staff", user_id=newcomer.id).exists()
    # A reader-writer still gets the role back.
    _create(admin, "open", acl={writer.id: {"read": True, "write": True}})
    both = writer.client.post("/api/v1/roles/open/users", {"ids": [newcomer.id]}, format="json")
    assert both.status_code == 200 and both.json()["users"] == [newcomer.id]


def test_regression_role_names_with_a_trailing_newline_are_refused(admin):
    response = admin.post("/api/v1/roles", {"name": "moderator\n"}, format="json")
    assert response.status_code == 400, response.content
