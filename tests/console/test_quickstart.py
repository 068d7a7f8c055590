"""The overview's quickstart: snippets taken from the rendered page run for real and succeed.

curl snippets run in bash against a live server; Python snippets run in a fresh interpreter with
the SDK (`basalt_sdk`). The key is the publishable key the console showed once at creation.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys

import pytest
from django.test import Client

from basalt.documents import catalog
from basalt.documents.models import Document
from basalt.projects.models import Project
from console.quickstart import KEY_PLACEHOLDER

pytestmark = pytest.mark.django_db(transaction=True)

OPEN = {op: ["*"] for op in ("get", "find", "count", "create")}


@pytest.fixture
def console_at(live_server, make_account):
    """A signed-in console client whose pages name the live server as their host."""
    client = Client(HTTP_HOST=live_server.url.removeprefix("http://"))
    client.force_login(make_account(), backend="django.contrib.auth.backends.ModelBackend")
    return client


def _new_project(client: Client) -> tuple[Project, str]:
    page = client.post("/console/projects", {"name": "Quick"}).content.decode()
    key = re.search(r'id="new-key-value">(pk_[^<]+)<', page).group(1)
    return Project.objects.get(ref=re.search(r'id="project-ref">([a-z0-9]+)<', page).group(1)), key


def snippets(page: str, key: str) -> dict[str, dict[str, str]]:
    """{collection: {"curl": text, "python": text}} as shown, with the key where the page puts it."""
    found: dict[str, dict[str, str]] = {}
    for lang, collection, text in re.findall(
        r'<code id="code-(curl|python)-\d+" data-key-slot="[^"]*" data-collection="([^"]*)">(.*?)</code>', page, re.S
    ):
        found.setdefault(collection, {})[lang] = html.unescape(text).replace(KEY_PLACEHOLDER, key)
    return found


def run_curl(snippet: str) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", snippet], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert '"error"' not in done.stdout, done.stdout
    return done.stdout


def run_python(snippet: str) -> str:
    done = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def _titles(project: Project, collection: str) -> list[str]:
    schema = catalog.get_collection(project, collection)
    return [doc.data.get("title") for doc in Document.objects.filter(collection=schema)]


def test_quickstart_on_a_new_project_offers_a_sample_collection_and_then_runs_as_pasted(console_at):
    """A new project has no collection: one click creates one the pasted snippets then write to."""
    project, key = _new_project(console_at)
    home = console_at.get(f"/console/p/{project.ref}/").content.decode()
    assert "Create the sample “notes” collection" in home
    assert "posts" not in home
    # Only the key check is offered before there is a collection; it works as pasted.
    run_curl(snippets(home, key)[""]["curl"])

    answer = console_at.post(f"/console/p/{project.ref}/quickstart/sample", HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "Create the sample" not in page
    shown = snippets(page, key)["notes"]
    assert "auth/signup" in shown["curl"] and "Authorization: Bearer $TOKEN" in shown["curl"]
    assert "from basalt_sdk import Client" in shown["python"] and "requests" not in shown["python"]

    out = run_curl(shown["curl"])
    assert '"title": "Hello, Basalt"' in out or '"title":"Hello, Basalt"' in out
    run_python(shown["python"])
    assert _titles(project, "notes") == ["Hello, Basalt", "Hello, Basalt"]


@pytest.mark.parametrize(
    ("rules", "signs_in"),
    [
        ({"permissions": OPEN, "default_acl": "public"}, None),
        ({"permissions": {op: ["authenticated"] for op in OPEN}, "default_acl": "owner"}, "auth/signup"),
        ({"permissions": {**OPEN, "create": ["*"]}, "default_acl": "owner"}, "auth/signup"),
    ],
    ids=["open", "private-to-owner", "owner-acl"],
)
def test_quickstart_uses_the_projects_own_collection_and_its_rules(console_at, rules, signs_in):
    """The snippet names the project's collection (not `posts`), fills its required fields, and
    signs an end-user in exactly when the rules need one."""
    project, key = _new_project(console_at)
    catalog.create_collection(
        project,
        {
            "name": "recipes",
            "fields": {
                "name": {"type": "string", "required": True, "max_length": 5},
                "minutes": {"type": "number", "required": True, "min": 3},
                "kind": {"type": "string", "choices": ["soup", "stew"], "required": True},
            },
            **rules,
        },
    )
    shown = snippets(console_at.get(f"/console/p/{project.ref}/").content.decode(), key)["recipes"]
    assert "posts" not in shown["curl"] + shown["python"]
    assert (signs_in in shown["curl"]) if signs_in else ("Authorization" not in shown["curl"])
    run_curl(shown["curl"])
    run_python(shown["python"])
    docs = Document.objects.filter(collection=catalog.get_collection(project, "recipes"))
    assert [d.data for d in docs] == [{"name": "Hello", "minutes": 3, "kind": "soup"}] * 2


def test_quickstart_signs_in_anonymously_when_sign_up_is_closed(console_at):
    project, key = _new_project(console_at)
    project.settings = {"auth": {"sign_up_enabled": False}}
    project.save()
    console_at.post(f"/console/p/{project.ref}/quickstart/sample")
    shown = snippets(console_at.get(f"/console/p/{project.ref}/").content.decode(), key)["notes"]
    assert "auth/anonymous" in shown["curl"] and "sign_in_anonymously()" in shown["python"]
    run_curl(shown["curl"])
    run_python(shown["python"])
    assert len(_titles(project, "notes")) == 2


def test_quickstart_explains_a_locked_collection_instead_of_a_failing_snippet(console_at):
    project, key = _new_project(console_at)
    catalog.create_collection(project, {"name": "ledger", "fields": {"memo": {"type": "string"}}})
    page = console_at.get(f"/console/p/{project.ref}/").content.decode()
    assert "cannot create documents in “ledger”" in page
    assert "Create the sample “notes” collection" in page
    shown = snippets(page, key)["ledger"]
    assert "collections/ledger" not in shown["curl"]
    run_curl(shown["curl"])


def test_viewers_are_not_offered_the_sample_collection_and_cannot_create_it(member_client, project):
    viewer = member_client("viewer")
    home = viewer.get(f"/console/p/{project.project.ref}/").content.decode()
    assert "Create the sample" not in home and "A developer or admin of this project can create it." in home
    assert viewer.post(f"/console/p/{project.project.ref}/quickstart/sample").status_code == 403
    assert not catalog.list_collections(project.project) or all(
        c["name"] != "notes" for c in catalog.list_collections(project.project)
    )
