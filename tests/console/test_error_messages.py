"""Console errors say what is wrong in words, once, and keep what was typed."""

from __future__ import annotations

import html
import re

import pytest

from basalt.documents import catalog
from basalt.documents.models import Document
from basalt.identity import services as identity
from basalt.projects.services import PROJECT_NAME_MAX
from console.caller import console_caller

pytestmark = pytest.mark.django_db


@pytest.fixture
def base(project):
    catalog.create_collection(
        project.project,
        {
            "name": "recipes",
            "fields": {
                "title": {"type": "string", "required": True, "max_length": 5},
                "minutes": {"type": "number", "min": 0},
                "meta": {"type": "object"},
                "due": {"type": "date"},
            },
        },
    )
    return f"/console/p/{project.project.ref}"


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_a_bad_filter_value_shows_the_apis_message_not_just_the_field(owner_client, base):
    response = owner_client.get(f"{base}/data/recipes", {"f": "minutes", "op": ">", "v": "soon"})
    page = text(response)
    assert response.status_code == 400
    error = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', page, re.S).group(1)
    assert error != "minutes" and "must be a finite number" in error


def test_document_json_and_field_errors_come_in_one_round(owner_client, base):
    """A bad JSON object, a too-long title and a negative number are all reported by one save."""
    response = owner_client.post(
        f"{base}/data/recipes/new", {"title": "far too long", "minutes": "-3", "meta": "{not json", "acl": ""}
    )
    page = text(response)
    assert response.status_code == 400
    assert "Not valid JSON" in page and "At most 5 characters" in page and "Must be at least 0." in page
    assert Document.objects.count() == 0


def test_document_form_reports_field_errors_beside_a_bad_acl(owner_client, base):
    response = owner_client.post(f"{base}/data/recipes/new", {"title": "", "meta": "", "acl": "{nope"})
    page = text(response)
    assert response.status_code == 400 and "Not valid JSON" in page and "This field is required." in page


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("schema", {"name": "Bad Name", "preset": "locked"}),
        ("schema/recipes/fields", {"field_name": "Bad-Field", "field_type": "string"}),
        ("roles", {"name": "Bad Role"}),
    ],
)
def test_name_errors_are_explained_in_words_not_regexes(owner_client, base, path, data):
    response = owner_client.post(f"{base}/{path}", data)
    page = text(response)
    assert response.status_code == 400
    assert "lowercase letters" in page and "^[a-z]" not in page and "{0,62}" not in page


def test_access_rules_keep_what_was_typed_when_refused(owner_client, base):
    typed = {
        "form": "rules",
        "preset": "custom",
        "perm_get": "role:",
        "perm_find": "*, authenticated",
        "default_acl": "public",
        "protected_fields": "*: minutes",
    }
    response = owner_client.post(f"{base}/schema/recipes/rules", typed)
    page = text(response)
    assert response.status_code == 400
    assert 'value="role:"' in page and 'value="*, authenticated"' in page and "*: minutes</textarea>" in page
    assert re.search(r'id="preset-custom"[^>]*checked', page)
    assert re.search(r'<option value="public"\s+selected', page)


def test_inputs_take_no_more_than_the_server_accepts(owner_client, browser_for, make_account, project):
    """The project-name box stops at the server's limit; every text input has a maxlength."""
    page = text(owner_client.get(f"/console/p/{project.project.ref}/settings"))
    name_input = re.search(r'<input[^>]*name="name"[^>]*>', page).group(0)
    assert f'maxlength="{PROJECT_NAME_MAX}"' in name_input
    new = text(browser_for(make_account()).get("/console/projects"))
    assert f'maxlength="{PROJECT_NAME_MAX}"' in re.search(r'<input[^>]*name="name"[^>]*>', new).group(0)


def test_user_search_with_a_space_finds_by_each_word(owner_client, project):
    for email in ("ada.lovelace@example.com", "ada.byron@example.com", "grace@example.com"):
        identity.sign_up(
            console_caller(project.project, project.owner.pk),
            {"email": email, "password": "a long passphrase"},
            identity.Client(),
        )
    response = owner_client.get(f"/console/p/{project.project.ref}/users", {"q": "ada lovelace"})
    page = text(response)
    assert response.status_code == 200, page[-500:]
    assert "ada.lovelace@example.com" in page and "ada.byron" not in page and "grace@" not in page
    special = owner_client.get(f"/console/p/{project.project.ref}/users", {"q": "a+b (c) [d] *"})
    assert special.status_code == 200


@pytest.fixture
def mail_to_files(settings, tmp_path):
    """The embedded default without EMAIL_HOST: Django's file backend in the data folder."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    return tmp_path / "mail"


def test_an_invitation_written_to_a_file_says_so(
    owner_client, project, mail_to_files, django_capture_on_commit_callbacks
):
    members = text(owner_client.get(f"/console/p/{project.project.ref}/members"))
    assert f"written to files in <code>{mail_to_files}</code>" in members or str(mail_to_files) in members
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            f"/console/p/{project.project.ref}/invitations", {"email": "new@example.com", "role": "viewer"}, follow=True
        )
    page = text(response)
    assert "Invitation sent to new@example.com" in page and "it was not sent" in page and str(mail_to_files) in page
    assert any(mail_to_files.iterdir())  # and the message really is in that folder


def test_a_password_reset_written_to_a_file_says_so(owner_client, project, mail_to_files):
    user = identity.sign_up(
        console_caller(project.project, project.owner.pk),
        {"email": "u@example.com", "password": "a long passphrase"},
        identity.Client(),
    )
    url = f"/console/p/{project.project.ref}/users/{user['user']['id']}"
    page = text(owner_client.post(f"{url}/reset", follow=True))
    assert "Password reset email sent to u@example.com" in page and "it was not sent" in page
    assert str(mail_to_files) in page


def test_sent_mail_is_not_qualified_when_a_mail_server_is_configured(owner_client, project):
    page = text(
        owner_client.post(
            f"/console/p/{project.project.ref}/invitations", {"email": "new@example.com", "role": "viewer"}, follow=True
        )
    )
    assert "Invitation sent to new@example.com" in page and "not sent" not in page
