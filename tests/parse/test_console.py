"""The project page's Parse card: connection details and the client class creation setting."""

from __future__ import annotations

import pytest

from basalt.parse.objects import client_class_creation
from tests.console.conftest import browser_for, member_client, owner_client  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "developer", "admin", "owner"]


def test_project_page_shows_parse_connection_details(owner_client, project):  # noqa: F811
    html = owner_client.get(f"/console/p/{project.project.ref}/").content.decode()
    assert 'id="parse"' in html and "http://testserver/parse" in html and "ws://testserver/parse" in html
    assert f"Parse.initialize('{project.project.ref}'" in html
    assert ">Save Parse setting<" in html


@pytest.mark.parametrize("role", ROLES)
def test_client_class_creation_setting_matrix(owner_client, member_client, project, role):  # noqa: F811
    client = owner_client if role == "owner" else member_client(role)
    response = client.post(f"/console/p/{project.project.ref}/parse", {"allow_client_class_creation": "on"})
    project.project.refresh_from_db()
    if role in ("admin", "owner"):
        assert response.status_code == 302 and response["Location"].endswith("#parse")
        assert client_class_creation(project.project) is True
        client.post(f"/console/p/{project.project.ref}/parse", {})
        project.project.refresh_from_db()
        assert client_class_creation(project.project) is False
    else:
        assert response.status_code == 403
        assert client_class_creation(project.project) is False
        assert ">Save Parse setting<" not in client.get(f"/console/p/{project.project.ref}/").content.decode()
