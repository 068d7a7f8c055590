"""Users & roles pages: list/search, create, disable, delete, reset, sessions; roles and their graph."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from basalt.identity.models import EndUser, Role, RoleInheritance, RoleMember, Session

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough passphrase"
WRITERS = ["developer", "admin", "owner"]


@pytest.fixture
def as_role(project, member_client, owner_client):
    def make(role: str):
        return owner_client if role == "owner" else member_client(role)

    return make


@pytest.fixture
def base(project) -> str:
    return f"/console/p/{project.project.ref}"


def app_signup(project, email: str) -> dict:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.publishable)
    response = client.post("/api/v1/auth/signup", {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def bearer(project, token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- users ------------------------------------------------------------------------------------


def test_list_and_search_users(project, owner_client, base):
    for email in ("ada@example.com", "grace@example.com", "alan@sample.org"):
        app_signup(project, email)
    html = owner_client.get(f"{base}/users").content.decode()
    assert "3 users" in html and all(e in html for e in ("ada@example.com", "grace@example.com", "alan@sample.org"))
    found = owner_client.get(f"{base}/users", {"q": "EXAMPLE.com"}).content.decode()
    assert "2 users" in found and "alan@sample.org" not in found
    # Search text is literal, never a regular expression.
    assert "0 users" in owner_client.get(f"{base}/users", {"q": ".*"}).content.decode()


def test_an_empty_project_says_so(owner_client, base):
    response = owner_client.get(f"{base}/users")
    assert response.status_code == 200 and b"No users yet" in response.content


@pytest.mark.parametrize("role", WRITERS)
def test_writers_create_a_user_who_can_sign_in(project, as_role, base, role):
    response = as_role(role).post(f"{base}/users", {"email": "New@Example.com", "password": PASSWORD})
    assert response.status_code == 302
    user = EndUser.objects.get(project=project.project)
    assert response["Location"].endswith(f"/users/{user.id}")
    assert user.email == "new@example.com"
    # The session sign_up opened for nobody is closed again.
    assert not Session.objects.filter(user=user, revoked_at__isnull=True).exists()
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.publishable)
    login = client.post("/api/v1/auth/login", {"email": "new@example.com", "password": PASSWORD}, format="json")
    assert login.status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "ok@example.com", "password": "short"}, "password"),
        ({"password": PASSWORD}, "email"),
    ],
)
def test_bad_input_is_shown_next_to_the_field_and_creates_nothing(project, owner_client, base, body, field):
    response = owner_client.post(f"{base}/users", body)
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(rf'class="field has-error">\s*<label for="new-{field}"', html)
    assert not EndUser.objects.filter(project=project.project).exists()


def test_a_duplicate_email_is_refused_inline(project, owner_client, base):
    app_signup(project, "dup@example.com")
    response = owner_client.post(f"{base}/users", {"email": "dup@example.com", "password": PASSWORD})
    assert response.status_code == 400 and b"Already registered" in response.content
    assert EndUser.objects.filter(project=project.project).count() == 1


def test_viewer_reads_users_but_every_write_is_refused(
    project, member_client, base, django_capture_on_commit_callbacks
):
    user = app_signup(project, "v@example.com")["user"]
    viewer = member_client("viewer")
    listing = viewer.get(f"{base}/users").content.decode()
    assert "v@example.com" in listing and "Create user" not in listing
    detail = viewer.get(f"{base}/users/{user['id']}").content.decode()
    assert "Delete user" not in detail and "Disable sign-in" not in detail
    assert viewer.post(f"{base}/users", {"email": "x@example.com", "password": PASSWORD}).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        for action in ("disable", "delete", "reset", "sessions"):
            assert viewer.post(f"{base}/users/{user['id']}/{action}", {"session": "all"}).status_code == 403
    assert EndUser.objects.filter(project=project.project).count() == 1
    assert not EndUser.objects.get(pk=user["id"]).disabled
    assert Session.objects.filter(user_id=user["id"], revoked_at__isnull=True).count() == 1
    assert len(mail.outbox) == 0


def test_disable_ends_sessions_and_refuses_sign_in_then_enable_restores(project, owner_client, base):
    signed = app_signup(project, "d@example.com")
    uid = signed["user"]["id"]
    assert bearer(project, signed["access_token"]).get("/api/v1/auth/me").status_code == 200
    assert owner_client.post(f"{base}/users/{uid}/disable", {"disabled": "true"}).status_code == 302
    assert bearer(project, signed["access_token"]).get("/api/v1/auth/me").status_code == 401
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.publishable)
    creds = {"email": "d@example.com", "password": PASSWORD}
    assert client.post("/api/v1/auth/login", creds, format="json").status_code == 401
    owner_client.post(f"{base}/users/{uid}/disable", {"disabled": "false"})
    assert client.post("/api/v1/auth/login", creds, format="json").status_code == 200


def test_revoke_one_session_or_all(project, owner_client, base):
    first = app_signup(project, "s@example.com")
    uid = first["user"]["id"]
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.publishable)
    second = client.post("/api/v1/auth/login", {"email": "s@example.com", "password": PASSWORD}, format="json").json()
    page = owner_client.get(f"{base}/users/{uid}").content.decode()
    assert "2 signed-in devices" in page
    one = Session.objects.filter(user_id=uid).order_by("created_at").first()
    assert owner_client.post(f"{base}/users/{uid}/sessions", {"session": one.id}).status_code == 302
    assert bearer(project, first["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert bearer(project, second["access_token"]).get("/api/v1/auth/me").status_code == 200
    owner_client.post(f"{base}/users/{uid}/sessions", {"session": "all"})
    assert bearer(project, second["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert "0 signed-in devices" in owner_client.get(f"{base}/users/{uid}").content.decode()


def test_password_reset_sends_a_mail(project, owner_client, base, django_capture_on_commit_callbacks):
    uid = app_signup(project, "r@example.com")["user"]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"{base}/users/{uid}/reset")
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["r@example.com"]]


def test_delete_user_kills_their_tokens(project, owner_client, base):
    signed = app_signup(project, "gone@example.com")
    uid = signed["user"]["id"]
    assert owner_client.post(f"{base}/users/{uid}/delete").status_code == 302
    assert not EndUser.objects.filter(pk=uid).exists()
    assert bearer(project, signed["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert owner_client.get(f"{base}/users/{uid}").status_code == 404


def test_another_projects_user_is_404(project, make_project, owner_client, base):
    other = make_project("Other")
    stranger = app_signup(other, "elsewhere@example.com")["user"]["id"]
    for suffix in ("", "/disable", "/delete", "/reset", "/sessions"):
        method = owner_client.get if not suffix else owner_client.post
        assert method(f"{base}/users/{stranger}{suffix}", {"session": "all"}).status_code == 404
    assert EndUser.objects.filter(pk=stranger, disabled=False).exists()


def test_non_member_gets_404_for_users_and_roles(project, browser_for, make_account, base):
    outsider = browser_for(make_account())
    for path in ("/users", "/roles"):
        assert outsider.get(base + path).status_code == 404
    assert outsider.post(f"{base}/roles", {"name": "sneaky"}).status_code == 404
    assert not Role.objects.filter(project=project.project).exists()


def test_hostile_session_ids_and_search(project, owner_client, base):
    uid = app_signup(project, "h@example.com")["user"]["id"]
    for bad in ("", "x" * 500, "../../etc", "\x00", "' OR 1=1 --"):
        assert owner_client.post(f"{base}/users/{uid}/sessions", {"session": bad}).status_code == 404
    assert owner_client.get(f"{base}/users", {"q": "(" * 300}).status_code == 200
    assert Session.objects.filter(user_id=uid, revoked_at__isnull=True).count() == 1


# --- roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", WRITERS)
def test_writers_build_a_role_graph(project, as_role, base, role):
    client = as_role(role)
    ada = app_signup(project, "ada@example.com")
    assert client.post(f"{base}/roles", {"name": "moderator"}).status_code == 302
    assert client.post(f"{base}/roles", {"name": "admin-team"}).status_code == 302
    assert client.post(f"{base}/roles/moderator/users", {"user": "ADA@example.com"}).status_code == 302
    assert client.post(f"{base}/roles/moderator/roles", {"role": "admin-team"}).status_code == 302
    page = client.get(f"{base}/roles/moderator").content.decode()
    assert "ada@example.com" in page and 'href="/console/p/' in page and "admin-team" in page
    assert f'<span class="role-badge role-{role}">{role}</span>' in page  # the sidebar keeps the console role
    listing = client.get(f"{base}/roles").content.decode()
    assert "role:moderator" in listing and "role:admin-team" in listing
    # The API sees the membership: ada now holds role:moderator.
    me = bearer(project, ada["access_token"])
    assert me.get("/api/v1/auth/me").status_code == 200
    moderator = Role.objects.get(project=project.project, name="moderator")
    assert RoleMember.objects.filter(role=moderator, user_id=ada["user"]["id"]).exists()
    assert client.post(f"{base}/roles/moderator/users/{ada['user']['id']}/remove").status_code == 302
    assert client.post(f"{base}/roles/moderator/roles/admin-team/remove").status_code == 302
    assert not RoleMember.objects.filter(role=moderator).exists()
    assert not RoleInheritance.objects.filter(parent=moderator).exists()


def test_role_errors_are_inline_and_change_nothing(project, owner_client, base):
    bad = owner_client.post(f"{base}/roles", {"name": "Bad Name!"})
    assert bad.status_code == 400 and b"has-error" in bad.content
    owner_client.post(f"{base}/roles", {"name": "a"})
    owner_client.post(f"{base}/roles", {"name": "b"})
    assert owner_client.post(f"{base}/roles", {"name": "a"}).status_code == 400  # taken
    unknown = owner_client.post(f"{base}/roles/a/users", {"user": "nobody@example.com"})
    assert unknown.status_code == 400 and b"No user with the email" in unknown.content
    owner_client.post(f"{base}/roles/a/roles", {"role": "b"})
    loop = owner_client.post(f"{base}/roles/b/roles", {"role": "a"})
    assert loop.status_code == 400 and b"loop" in loop.content
    assert RoleInheritance.objects.count() == 1
    assert Role.objects.filter(project=project.project).count() == 2


def test_delete_role_needs_its_name(project, owner_client, base):
    owner_client.post(f"{base}/roles", {"name": "temp"})
    assert owner_client.post(f"{base}/roles/temp/delete", {"confirm_name": "nope"}).status_code == 400
    assert Role.objects.filter(name="temp").exists()
    assert owner_client.post(f"{base}/roles/temp/delete", {"confirm_name": "temp"}).status_code == 302
    assert not Role.objects.filter(name="temp").exists()


def test_viewer_reads_roles_and_cannot_change_them(project, owner_client, member_client, base):
    owner_client.post(f"{base}/roles", {"name": "keep"})
    viewer = member_client("viewer")
    page = viewer.get(f"{base}/roles/keep").content.decode()
    assert "keep" in page and "Add user" not in page and "Delete role" not in page
    assert viewer.post(f"{base}/roles", {"name": "new"}).status_code == 403
    assert viewer.post(f"{base}/roles/keep/delete", {"confirm_name": "keep"}).status_code == 403
    assert viewer.post(f"{base}/roles/keep/users", {"user": "x"}).status_code == 403
    assert list(Role.objects.filter(project=project.project).values_list("name", flat=True)) == ["keep"]


def test_unknown_role_is_404(owner_client, base):
    assert owner_client.get(f"{base}/roles/ghost").status_code == 404
    assert owner_client.post(f"{base}/roles/ghost/users", {"user": "x"}).status_code == 404


# --- second edition: status, profile edits, roles on the user page ------------------------------------


@pytest.mark.parametrize("role", ["viewer", "developer", "admin", "owner"])
def test_profile_edit_matrix(project, as_role, base, role):
    from basalt.identity.models import EndUser

    user = app_signup(project, "edit@example.com")["user"]
    client = as_role(role)
    answer = client.post(
        f"{base}/users/{user['id']}/profile",
        {"email": "new@example.com", "username": "newname", "email_verified": "true"},
    )
    stored = EndUser.objects.get(pk=user["id"])
    if role == "viewer":
        assert answer.status_code == 403
        assert (stored.email, stored.username, stored.email_verified) == ("edit@example.com", None, False)
        assert 'id="profile-form"' not in client.get(f"{base}/users/{user['id']}").content.decode()
    else:
        assert answer.status_code == 302
        assert (stored.email, stored.username, stored.email_verified) == ("new@example.com", "newname", True)
        page = client.get(f"{base}/users/{user['id']}").content.decode()
        assert 'id="user-status">active<' in page and "new@example.com" in page


def test_status_shows_unverified_and_disabled_and_roles(project, owner_client, base):
    from basalt.identity import roles as identity_roles
    from console.caller import console_caller

    user = app_signup(project, "status@example.com")["user"]
    listing = owner_client.get(f"{base}/users").content.decode()
    assert "data-status>unverified<" in listing
    caller = console_caller(project.project, project.owner.pk)
    identity_roles.create_role(caller, {"name": "editors"})
    identity_roles.add_users(caller, "editors", [user["id"]])
    owner_client.post(f"{base}/users/{user['id']}/disable", {"disabled": "true"})
    page = owner_client.get(f"{base}/users/{user['id']}").content.decode()
    assert 'id="user-status">disabled<' in page and "/roles/editors" in page
    assert "data-status>disabled<" in owner_client.get(f"{base}/users").content.decode()


def test_profile_edit_refuses_a_taken_email_or_bad_username_and_changes_nothing(project, owner_client, base):
    from basalt.identity.models import EndUser

    app_signup(project, "taken@example.com")
    user = app_signup(project, "mine@example.com")["user"]
    taken = owner_client.post(f"{base}/users/{user['id']}/profile", {"email": "taken@example.com", "username": ""})
    bad = owner_client.post(f"{base}/users/{user['id']}/profile", {"email": "mine@example.com", "username": "!!"})
    assert taken.status_code == bad.status_code == 400
    assert "has-error" in bad.content.decode()
    stored = EndUser.objects.get(pk=user["id"])
    assert (stored.email, stored.username) == ("mine@example.com", None)
