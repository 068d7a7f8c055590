"""Project list, overview, keys, settings and members pages, including the role matrix."""

from __future__ import annotations

import re

import pytest

from basalt.projects import services
from basalt.projects.models import ApiKey, Invitation, Membership, Project

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "developer", "admin", "owner"]


@pytest.fixture
def as_role(project, member_client, owner_client):
    """A client for the project with the given console role ('owner' is the project's owner)."""

    def make(role: str):
        return owner_client if role == "owner" else member_client(role)

    return make


def url(project, suffix: str = "") -> str:
    return f"/console/p/{project.project.ref}/{suffix}"


# --- list, create ---------------------------------------------------------------------------------


def test_project_list_shows_only_my_projects(browser_for, make_project):
    mine = make_project("Mine")
    make_project("Someone else's")
    html = browser_for(mine.owner).get("/console/projects").content.decode()
    assert "Mine" in html and "Someone else" not in html


def test_create_project_shows_a_publishable_key_once_that_the_api_accepts(browser_for, make_account, api):
    client = browser_for(make_account())
    response = client.post("/console/projects", {"name": "Recipe box"})
    assert response.status_code == 201
    html = response.content.decode()
    raw = re.search(r'id="new-key-value">(pk_[^<]+)<', html).group(1)
    assert raw in re.search(r'id="code-curl-1"[^>]*>(.*?)</code>', html, re.S).group(1)  # quickstart holds the key
    api.credentials(HTTP_X_API_KEY=raw)
    answer = api.get("/api/v1/project")
    assert answer.status_code == 200 and answer.json()["name"] == "Recipe box"
    project = Project.objects.get(name="Recipe box")
    assert Membership.objects.get(project=project).role == "owner"
    # Later visits never show the full key again; the quickstart uses a placeholder.
    later = client.get(f"/console/p/{project.ref}/").content.decode()
    assert raw not in later and "&lt;your publishable key&gt;" in later


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_create_project_with_a_bad_name_shows_the_error_and_creates_nothing(browser_for, make_account, name):
    response = browser_for(make_account()).post("/console/projects", {"name": name})
    assert response.status_code == 400
    assert b"has-error" in response.content or b"form-errors" in response.content
    assert not Project.objects.exists()


# --- visibility: every page for every role; other tenants get 404 --------------------------------

PAGES = ["", "settings", "members", "schema", "data", "users", "reference", "usage"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("suffix", PAGES)
def test_every_member_sees_every_page(as_role, project, role, suffix):
    # The data index redirects to the first collection (projects start with `users` and `roles`).
    response = as_role(role).get(url(project, suffix), follow=True)
    assert response.status_code == 200
    assert project.project.name.encode() in response.content
    assert response["Content-Security-Policy"].startswith("default-src 'self'")


@pytest.mark.parametrize("suffix", PAGES)
def test_another_accounts_project_is_a_404_page(browser_for, make_account, project, suffix):
    response = browser_for(make_account()).get(url(project, suffix))
    assert response.status_code == 404
    assert b"Not found" in response.content and project.project.name.encode() not in response.content


def test_unknown_project_ref_is_a_404_page(owner_client):
    assert owner_client.get("/console/p/doesnotexist/").status_code == 404


# --- buttons follow the role -------------------------------------------------------------------------

BUTTONS = {
    "": {"Create key": "admin", "Revoke": "admin"},
    "settings": {"Rename": "admin", "Save origins": "admin", "Save limits": "admin", "Delete this project": "owner"},
    "members": {"Send invitation": "admin"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("suffix", list(BUTTONS))
def test_buttons_appear_only_for_roles_that_may_use_them(as_role, project, role, suffix):
    html = as_role(role).get(url(project, suffix)).content.decode()
    for label, least in BUTTONS[suffix].items():
        shown = f">{label}<" in html
        assert shown == (ROLES.index(role) >= ROLES.index(least)), (label, role)


# --- actions: allowed roles succeed, others are refused and nothing changes ---------------------------


@pytest.mark.parametrize("role", ROLES)
def test_create_key_matrix(as_role, project, role):
    before = ApiKey.objects.count()
    response = as_role(role).post(url(project, "keys"), {"kind": "secret", "name": "CI"})
    if role in ("admin", "owner"):
        assert response.status_code == 201
        assert re.search(rb'id="new-key-value">sk_', response.content)
        assert ApiKey.objects.count() == before + 1
    else:
        assert response.status_code == 403
        assert ApiKey.objects.count() == before


def test_create_key_with_bad_kind_is_an_inline_error(owner_client, project):
    before = ApiKey.objects.count()
    response = owner_client.post(url(project, "keys"), {"kind": "master", "name": "x"})
    assert response.status_code == 400 and b"has-error" in response.content
    assert ApiKey.objects.count() == before


@pytest.mark.parametrize("role", ROLES)
def test_revoke_key_matrix(as_role, project, api, role):
    key = ApiKey.objects.filter(project=project.project, kind="publishable").get()
    response = as_role(role).post(url(project, f"keys/{key.id}/revoke"))
    key.refresh_from_db()
    api.credentials(HTTP_X_API_KEY=project.publishable)
    if role in ("admin", "owner"):
        assert response.status_code == 302 and key.revoked_at is not None
        assert api.get("/api/v1/project").status_code == 401
    else:
        assert response.status_code == 403 and key.revoked_at is None
        assert api.get("/api/v1/project").status_code == 200


def test_revoking_another_projects_key_is_a_404(owner_client, project, make_project):
    other = make_project("Other")
    key = ApiKey.objects.filter(project=other.project).first()
    assert owner_client.post(url(project, f"keys/{key.id}/revoke")).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_actions_change_nothing_on_get(owner_client, project):
    """A GET on an action's address (a reload) lands on its page; only POST acts."""
    key = ApiKey.objects.filter(project=project.project).first()
    for suffix in ["keys", f"keys/{key.id}/revoke", "settings/name", "settings/cors", "settings/delete"]:
        assert owner_client.get(url(project, suffix)).status_code == 302
        assert owner_client.put(url(project, suffix)).status_code == 405
    key.refresh_from_db()
    assert key.is_active and ApiKey.objects.filter(project=project.project).count() == 2
    assert Project.objects.filter(pk=project.project.pk).exists()


@pytest.mark.parametrize("role", ROLES)
def test_rename_matrix(as_role, project, role):
    response = as_role(role).post(url(project, "settings/name"), {"name": "Renamed"})
    project.project.refresh_from_db()
    if role in ("admin", "owner"):
        assert response.status_code == 302 and project.project.name == "Renamed"
    else:
        assert response.status_code == 403 and project.project.name == "Demo"


@pytest.mark.parametrize("role", ROLES)
def test_cors_matrix(as_role, project, role):
    response = as_role(role).post(url(project, "settings/cors"), {"cors_origins": "https://app.example.com\n"})
    project.project.refresh_from_db()
    origins = project.project.settings.get("cors_origins")
    if role in ("admin", "owner"):
        assert response.status_code == 302 and origins == ["https://app.example.com"]
    else:
        assert response.status_code == 403 and origins is None


def test_bad_cors_origin_is_shown_next_to_the_field_and_nothing_is_saved(owner_client, project):
    response = owner_client.post(url(project, "settings/cors"), {"cors_origins": "https://ok.example.com\nftp://nope"})
    assert response.status_code == 400
    assert b"Not an origin: ftp://nope" in response.content
    project.project.refresh_from_db()
    assert "cors_origins" not in project.project.settings


def test_limits_are_saved_and_out_of_range_values_are_refused(owner_client, project):
    limits = dict(services.get_project_settings(project.owner, project.project.ref)["limits"])
    limits["max_page_size"] = 200
    assert owner_client.post(url(project, "settings/limits"), limits).status_code == 302
    project.project.refresh_from_db()
    assert project.project.settings["limits"]["max_page_size"] == 200
    limits["max_page_size"] = 5000
    response = owner_client.post(url(project, "settings/limits"), limits)
    assert response.status_code == 400 and b"Must be an integer from 1 to 1000" in response.content
    limits["max_page_size"] = 100
    limits["max_batch_requests"] = "many"
    response = owner_client.post(url(project, "settings/limits"), limits)
    assert response.status_code == 400 and b"Enter a whole number" in response.content
    project.project.refresh_from_db()
    assert project.project.settings["limits"]["max_page_size"] == 200


def test_limits_form_refuses_viewer(as_role, project):
    limits = services.get_project_settings(project.owner, project.project.ref)["limits"]
    assert as_role("viewer").post(url(project, "settings/limits"), {**limits, "max_page_size": 5}).status_code == 403
    project.project.refresh_from_db()
    assert "limits" not in project.project.settings


@pytest.mark.parametrize("role", ROLES)
def test_delete_matrix(as_role, project, role):
    response = as_role(role).post(url(project, "settings/delete"), {"confirm_name": "Demo"})
    exists = Project.objects.filter(pk=project.project.pk).exists()
    if role == "owner":
        assert response.status_code == 302 and response["Location"] == "/console/projects" and not exists
    else:
        assert response.status_code == 403 and exists


@pytest.mark.parametrize("typed", ["", "demo", "Demo "])
def test_delete_requires_the_exact_name(owner_client, project, typed):
    response = owner_client.post(url(project, "settings/delete"), {"confirm_name": typed})
    assert response.status_code == 400 and b"Type the project" in response.content
    assert Project.objects.filter(pk=project.project.pk).exists()


# --- members ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_add_member_matrix(as_role, project, make_account, role):
    """Admins and owners add a member by inviting them; nobody joins without accepting."""
    newcomer = make_account("newcomer@example.com")
    response = as_role(role).post(url(project, "members"), {"email": "newcomer@example.com", "role": "developer"})
    assert not Membership.objects.filter(project=project.project, account=newcomer).exists()
    invited = Invitation.objects.filter(project=project.project, email="newcomer@example.com").exists()
    if role in ("admin", "owner"):
        assert response.status_code == 302 and invited
    else:
        assert response.status_code == 403 and not invited


def test_add_member_answers_alike_for_known_and_unknown_addresses(owner_client, project, make_account):
    """The page never tells whether an address has a console account: both get an invitation."""
    make_account("known@example.com")
    known = owner_client.post(url(project, "members"), {"email": "known@example.com", "role": "viewer"}, follow=True)
    unknown = owner_client.post(
        url(project, "members"), {"email": "unknown@example.com", "role": "viewer"}, follow=True
    )
    assert known.status_code == unknown.status_code == 200
    assert b"Invitation sent to known@example.com (viewer)" in known.content
    assert b"Invitation sent to unknown@example.com (viewer)" in unknown.content
    assert set(Invitation.objects.values_list("email", flat=True)) == {"known@example.com", "unknown@example.com"}
    assert Membership.objects.filter(project=project.project).count() == 1


def test_add_member_errors_inline(owner_client, project, make_account):
    response = owner_client.post(url(project, "members"), {"email": "not-an-email", "role": "developer"})
    assert response.status_code == 400 and 'id="id_invite_email-errors"' in response.content.decode()
    member = make_account("dup@example.com")
    services.join_project(project.project, member, "viewer")
    again = owner_client.post(url(project, "members"), {"email": "dup@example.com", "role": "viewer"})
    assert again.status_code == 400 and b"already belongs to a member" in again.content


def test_admin_cannot_make_an_owner(as_role, project, make_account):
    make_account("x@example.com")
    response = as_role("admin").post(url(project, "members"), {"email": "x@example.com", "role": "owner"})
    assert response.status_code == 403
    assert not Membership.objects.filter(project=project.project, role="owner").exclude(account=project.owner).exists()
    assert not Invitation.objects.filter(role="owner").exists()


def test_change_role_and_remove_member(owner_client, project, make_account):
    account = make_account("mate@example.com")
    membership = services.join_project(project.project, account, "viewer")
    assert owner_client.post(url(project, f"members/{membership.pk}/role"), {"role": "admin"}).status_code == 302
    membership.refresh_from_db()
    assert membership.role == "admin"
    assert owner_client.post(url(project, f"members/{membership.pk}/remove")).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_last_owner_cannot_be_demoted(owner_client, project):
    mine = Membership.objects.get(project=project.project, account=project.owner)
    response = owner_client.post(url(project, f"members/{mine.pk}/role"), {"role": "viewer"}, follow=True)
    assert b"at least one owner" in response.content
    mine.refresh_from_db()
    assert mine.role == "owner"


def test_viewer_cannot_change_roles(as_role, project, make_account):
    account = make_account("mate@example.com")
    membership = services.join_project(project.project, account, "viewer")
    assert as_role("viewer").post(url(project, f"members/{membership.pk}/role"), {"role": "admin"}).status_code == 403
    membership.refresh_from_db()
    assert membership.role == "viewer"


def test_member_of_another_project_is_not_reachable(owner_client, project, make_project):
    other = make_project("Other")
    foreign = Membership.objects.get(project=other.project)
    assert owner_client.post(url(project, f"members/{foreign.pk}/remove")).status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()
