"""Every console role × every management action, exactly as API.md §8 says, and denials change nothing.

"Viewers read; developers change schema and data; admins also manage keys, settings and members;
only owners delete the project or transfer it." A non-member gets 404, never 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import resolve

from tests.foundation.conftest import Team, assert_error, snapshot

pytestmark = pytest.mark.django_db

ROLES = ("owner", "admin", "developer", "viewer", "non-member")
RANK = {"viewer": 0, "developer": 1, "admin": 2, "owner": 3}
BASE = "/api/v1/manage/projects/{ref}"


@dataclass(frozen=True)
class Action:
    """One management action: the lowest role allowed to do it and the status it answers then."""

    name: str
    method: str
    path: str
    min_role: str
    ok: int
    body: Callable[[Team], Any] | None = None
    setup: Callable[[Team], dict[str, str]] | None = None


def _secret_key_id(team: Team) -> dict[str, str]:
    from basalt.projects.models import ApiKey

    return {"key_id": ApiKey.objects.get(project=team.project, kind="secret").id}


def _target(team: Team) -> dict[str, str]:
    return {"member_id": str(team.target.pk)}


def _invitation(team: Team) -> dict[str, str]:
    from basalt.projects import invitations

    invitation = invitations.invite_member(
        team.accounts["owner"], team.ref, "matrix-invitee@example.com", "viewer", accept_url="http://t/{token}"
    )
    return {"invitation_id": invitation.pk}


def _collection(team: Team) -> dict[str, str]:
    from basalt.documents import catalog

    catalog.create_collection(team.project, {"name": "matrix", "fields": {"title": {"type": "string"}}})
    return {"collection": "matrix"}


def _hooks(team: Team) -> dict[str, str]:
    """A webhook endpoint (public literal address: nothing resolves or connects), a delivery, a job."""
    from django.db import transaction

    from basalt.hooks import dispatch, job_services, services

    owner = team.accounts["owner"]
    _collection(team)
    endpoint = services.create_endpoint(
        owner, team.ref, {"url": "http://93.184.216.34/h", "events": ["documents.create"]}
    )
    with transaction.atomic():
        (delivery,) = dispatch.emit(team.project.id, "webhook.ping", {}, endpoint=endpoint.endpoint)
    body = {"name": "j", "kind": "purge", "cron": "0 3 * * *", "config": {"collection": "matrix", "older_than_days": 9}}
    job = job_services.create_job(owner, team.ref, body)
    return {"endpoint_id": endpoint.endpoint.id, "delivery_id": delivery.id, "job_id": job.job.id}


HOOK_BODY = {"url": "http://93.184.216.34/h", "events": ["documents.create"]}
JOB_BODY = {"name": "j", "kind": "purge", "cron": "0 3 * * *", "config": {"collection": "matrix", "older_than_days": 9}}

ACTIONS = [
    Action("list webhooks", "GET", BASE + "/webhooks", "viewer", 200),
    Action("add webhook", "POST", BASE + "/webhooks", "admin", 201, body=lambda t: HOOK_BODY),
    Action("get webhook", "GET", BASE + "/webhooks/{endpoint_id}", "viewer", 200, setup=_hooks),
    Action(
        "change webhook",
        "PATCH",
        BASE + "/webhooks/{endpoint_id}",
        "admin",
        200,
        body=lambda t: {"description": "d"},
        setup=_hooks,
    ),
    Action("delete webhook", "DELETE", BASE + "/webhooks/{endpoint_id}", "admin", 204, setup=_hooks),
    Action("list deliveries", "GET", BASE + "/webhooks/{endpoint_id}/deliveries", "viewer", 200, setup=_hooks),
    Action("ping webhook", "POST", BASE + "/webhooks/{endpoint_id}/ping", "admin", 202, setup=_hooks),
    Action("get delivery", "GET", BASE + "/deliveries/{delivery_id}", "viewer", 200, setup=_hooks),
    Action("redeliver", "POST", BASE + "/deliveries/{delivery_id}/redeliver", "admin", 202, setup=_hooks),
    Action("list jobs", "GET", BASE + "/jobs", "viewer", 200),
    Action("get job", "GET", BASE + "/jobs/{job_id}", "viewer", 200, setup=_hooks),
    Action("change job", "PATCH", BASE + "/jobs/{job_id}", "admin", 200, body=lambda t: {"name": "k"}, setup=_hooks),
    Action("delete job", "DELETE", BASE + "/jobs/{job_id}", "admin", 204, setup=_hooks),
    Action("job runs", "GET", BASE + "/jobs/{job_id}/runs", "viewer", 200, setup=_hooks),
    Action("audit log", "GET", BASE + "/audit", "admin", 200),
    # Exports hold password hashes: admins only (basalt.operations.transfers).
    Action("list exports", "GET", BASE + "/exports", "admin", 200),
    Action("list imports", "GET", BASE + "/imports", "admin", 200),
    Action("get project", "GET", BASE, "viewer", 200),
    Action("rename project", "PATCH", BASE, "admin", 200, body=lambda t: {"name": "Renamed"}),
    Action("get settings", "GET", BASE + "/settings", "viewer", 200),
    Action(
        "patch settings",
        "PATCH",
        BASE + "/settings",
        "admin",
        200,
        body=lambda t: {"cors_origins": ["https://a.example"]},
    ),
    Action("settings via project", "PATCH", BASE, "admin", 200, body=lambda t: {"settings": {"cors_origins": []}}),
    Action("delete project", "DELETE", BASE, "owner", 204),
    Action("list keys", "GET", BASE + "/keys", "viewer", 200),
    Action("create key", "POST", BASE + "/keys", "admin", 201, body=lambda t: {"kind": "secret", "name": "m"}),
    Action("revoke key", "DELETE", BASE + "/keys/{key_id}", "admin", 204, setup=_secret_key_id),
    Action("list members", "GET", BASE + "/members", "viewer", 200),
    Action(
        "add member",
        "POST",
        BASE + "/members",
        "admin",
        202,
        body=lambda t: {"email": t.outsider.email, "role": "viewer"},
    ),
    Action(
        "change member",
        "PATCH",
        BASE + "/members/{member_id}",
        "admin",
        200,
        body=lambda t: {"role": "developer"},
        setup=_target,
    ),
    Action("remove member", "DELETE", BASE + "/members/{member_id}", "admin", 204, setup=_target),
    Action("list invitations", "GET", BASE + "/invitations", "viewer", 200),
    Action(
        "invite",
        "POST",
        BASE + "/invitations",
        "admin",
        201,
        body=lambda t: {"email": "new-person@example.com", "role": "developer"},
    ),
    Action("revoke invitation", "DELETE", BASE + "/invitations/{invitation_id}", "admin", 204, setup=_invitation),
    Action("get usage", "GET", BASE + "/usage", "viewer", 200),
    Action("list collections", "GET", BASE + "/collections", "viewer", 200),
    Action(
        "create collection",
        "POST",
        BASE + "/collections",
        "developer",
        201,
        body=lambda t: {"name": "created", "fields": {"title": {"type": "string"}}},
    ),
    Action("get collection", "GET", BASE + "/collections/{collection}", "viewer", 200, setup=_collection),
    Action(
        "change collection",
        "PATCH",
        BASE + "/collections/{collection}",
        "developer",
        200,
        body=lambda t: {"fields": {"title": {"type": "string"}, "score": {"type": "number"}}},
        setup=_collection,
    ),
    Action("delete collection", "DELETE", BASE + "/collections/{collection}", "developer", 204, setup=_collection),
]


def _route_exists(path: str) -> bool:
    from basalt.core.views import api_not_found

    return resolve(path.split("?")[0]).func is not api_not_found


def expected_status(action: Action, role: str) -> int:
    if role == "non-member":
        return 404
    return action.ok if RANK[role] >= RANK[action.min_role] else 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_role_matrix(team: Team, action: Action, role: str):
    params = {"ref": team.ref, **(action.setup(team) if action.setup else {})}
    path = action.path.format(**params)
    if not _route_exists(path):
        pytest.skip(f"{action.method} {action.path} is not routed yet")
    client = team.client(role)
    body = action.body(team) if action.body else None
    before = snapshot()
    send = getattr(client, action.method.lower())
    response = send(path, body, format="json") if body is not None else send(path)
    expected = expected_status(action, role)
    if expected == 404:
        assert_error(response, 404, "not_found")
    elif expected == 403:
        assert_error(response, 403, "permission_denied")
    else:
        assert response.status_code == expected, (response.status_code, response.content[:400])
    if expected >= 400:
        assert snapshot() == before, "a denied action changed the database"
        assert team.ref not in response.content.decode() or expected == 403


def test_rows_cover_every_management_route():
    """A management route nobody wrote a matrix row for fails here, so new actions get one."""
    from django.urls import URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    manage = [p for p in walk(get_resolver().url_patterns) if p.startswith("api/v1/manage/^projects/(?P<ref>")]
    covered = {"", "/settings", "/keys", "/keys/{key_id}", "/members", "/members/{member_id}"}
    covered |= {"/collections", "/collections/{collection}", "/usage", "/invitations", "/invitations/{invitation_id}"}
    covered |= {
        "/webhooks",
        "/webhooks/{endpoint_id}",
        "/webhooks/{endpoint_id}/deliveries",
        "/webhooks/{endpoint_id}/ping",
    }
    covered |= {"/deliveries/{delivery_id}", "/deliveries/{delivery_id}/redeliver", "/jobs", "/jobs/{job_id}"}
    covered |= {"/jobs/{job_id}/runs", "/audit", "/exports", "/imports"}
    # One transfer of each kind by id: their admin-only access is in tests/operations/test_transfer_refusals.py.
    covered |= {
        "/exports/{export_id}",
        "/exports/{export_id}/archive",
        "/imports/{import_id}",
        "/clone",
        "/clone/{clone_id}",
    }
    import re

    for pattern in manage:
        tail = pattern.split("(?P<ref>[^/]+)", 1)[1]
        tail = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: "{" + m.group(1) + "}", tail).replace("/?$", "").rstrip("$")
        tail = tail.replace("{name}", "{collection}")
        assert tail in covered, f"no role-matrix row for /projects/{{ref}}{tail}"


def test_project_list_shows_only_the_callers_projects(team: Team):
    for role in ROLES:
        listed = team.client(role).get("/api/v1/manage/projects")
        assert listed.status_code == 200
        refs = {item["ref"]: item for item in listed.json()["results"]}
        if role == "non-member":
            assert team.ref not in refs
        else:
            assert refs[team.ref]["role"] == role


# --- ownership rules --------------------------------------------------------------------------


def members_url(team: Team, member_id: int | None = None) -> str:
    return f"/api/v1/manage/projects/{team.ref}/members" + (f"/{member_id}" if member_id else "")


def test_admin_cannot_grant_owner(team: Team):
    admin = team.client("admin")
    before = snapshot()
    assert_error(
        admin.patch(members_url(team, team.target.pk), {"role": "owner"}, format="json"), 403, "permission_denied"
    )
    response = admin.post(members_url(team), {"email": team.outsider.email, "role": "owner"}, format="json")
    assert_error(response, 403, "permission_denied")
    assert snapshot() == before


def test_admin_cannot_remove_or_demote_an_owner(team: Team):
    admin = team.client("admin")
    owner_member = team.members["owner"]
    before = snapshot()
    assert_error(admin.delete(members_url(team, owner_member.pk)), 403, "permission_denied")
    response = admin.patch(members_url(team, owner_member.pk), {"role": "viewer"}, format="json")
    assert_error(response, 403, "permission_denied")
    assert snapshot() == before


def test_last_owner_cannot_leave_or_be_demoted(team: Team):
    owner = team.client("owner")
    me = team.members["owner"]
    before = snapshot()
    assert_error(owner.delete(members_url(team, me.pk)), 409, "conflict")
    assert_error(owner.patch(members_url(team, me.pk), {"role": "admin"}, format="json"), 409, "conflict")
    assert snapshot() == before


def test_owner_transfers_the_project_and_steps_down(team: Team):
    owner = team.client("owner")
    admin_member = team.members["admin"]
    promoted = owner.patch(members_url(team, admin_member.pk), {"role": "owner"}, format="json")
    assert promoted.status_code == 200 and promoted.json()["role"] == "owner"
    assert owner.delete(members_url(team, team.members["owner"].pk)).status_code == 204

    assert_error(owner.get(f"/api/v1/manage/projects/{team.ref}"), 404, "not_found")
    new_owner = team.client("admin")
    assert new_owner.get(f"/api/v1/manage/projects/{team.ref}").json()["role"] == "owner"
    assert new_owner.delete(f"/api/v1/manage/projects/{team.ref}").status_code == 204


def test_any_member_may_leave(team: Team):
    viewer = team.client("viewer")
    assert viewer.delete(members_url(team, team.members["viewer"].pk)).status_code == 204
    assert_error(viewer.get(f"/api/v1/manage/projects/{team.ref}"), 404, "not_found")


def test_removed_member_loses_access_at_once(team: Team):
    admin = team.client("admin")
    developer = team.client("developer")
    assert developer.get(f"/api/v1/manage/projects/{team.ref}").status_code == 200
    assert admin.delete(members_url(team, team.members["developer"].pk)).status_code == 204
    assert_error(developer.get(f"/api/v1/manage/projects/{team.ref}"), 404, "not_found")


def test_superuser_flag_grants_nothing_on_a_project(team: Team):
    """Django's superuser flag is not a project role: a superuser viewer is still a viewer."""
    viewer = team.accounts["viewer"]
    viewer.is_superuser = True
    viewer.save()
    before = snapshot()
    assert_error(team.client("viewer").delete(f"/api/v1/manage/projects/{team.ref}"), 403, "permission_denied")
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [{"role": "superowner"}, {"role": ["owner"]}, {"role": None}, {}, {"role": "viewer", "account": 1}, "viewer"],
)
def test_bad_member_changes_are_validation_failed(team: Team, body):
    before = snapshot()
    response = team.client("owner").patch(members_url(team, team.target.pk), body, format="json")
    assert_error(response, 400, "validation_failed")
    assert snapshot() == before


@pytest.mark.parametrize("member_id", ["abc", "-1", "1.0", "99999999999999999999999", "%20"])
def test_odd_member_ids_are_not_found(team: Team, member_id):
    assert_error(team.client("owner").delete(members_url(team) + f"/{member_id}"), 404, "not_found")


def test_member_of_another_project_is_not_found(team: Team, make_project):
    other = make_project("Other")
    foreign = other.project.memberships.get()
    before = snapshot()
    assert_error(team.client("owner").delete(members_url(team, foreign.pk)), 404, "not_found")
    response = team.client("owner").patch(members_url(team, foreign.pk), {"role": "viewer"}, format="json")
    assert_error(response, 404, "not_found")
    assert snapshot() == before


def test_adding_unknown_or_existing_member(team: Team):
    owner = team.client("owner")
    # An address without an account is invited like any other (the answer tells nothing about it).
    response = owner.post(members_url(team), {"email": "ghost@example.com", "role": "viewer"}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    response = owner.post(
        members_url(team), {"email": team.accounts["viewer"].email.upper(), "role": "admin"}, format="json"
    )
    assert_error(response, 409, "conflict")
