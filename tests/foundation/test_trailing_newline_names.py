"""Names never pass validation with a trailing newline (Python's `$` matches before a final `\\n`).

`users\\n`, `moderator\\n` or `alice\\n` would otherwise be a second name that prints like the first.
Two halves: a static sweep of every regex literal in platform/, console/ and sdk/ (none may end in
a bare `$`; validators anchor with `\\Z` or use fullmatch), and the validators themselves, each fed
a valid name plus a newline through the real API.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.documents.conftest import key_client

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "platform", ROOT / "console", ROOT / "sdk"]
REGEX_CALLS = {"compile", "match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer"}


def _regex_literals(tree: ast.AST):
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr in REGEX_CALLS):
            continue
        if not (isinstance(func.value, ast.Name) and func.value.id == "re"):
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield node.lineno, func.attr, first.value


def test_no_regex_literal_ends_in_a_dollar_that_admits_a_newline():
    """Every `re.…(r"…$")` in the product would accept `value\\n`; anchors must be `\\Z` (or fullmatch)."""
    offenders = []
    for base in SOURCES:
        for path in base.rglob("*.py"):
            if "migrations" in path.parts or ".venv" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for line, call, pattern in _regex_literals(tree):
                if call != "fullmatch" and pattern.endswith("$") and not pattern.endswith("\\$"):
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {pattern}")
    assert offenders == [], "\n".join(offenders)


def test_the_product_validators_refuse_a_trailing_newline():
    """The compiled validators of every area: a valid value passes, the same value plus `\\n` does not."""
    from basalt.documents import batch, indexes, schema, services
    from basalt.documents.fields import common
    from basalt.documents.query import parser
    from basalt.identity import admin, auth_settings, roles, sessions, userdata
    from basalt.projects import project_settings
    from console.views import users as console_users

    cases = [
        (schema.NAME, "users"),
        (schema.PRINCIPAL_NAME, "moderator"),
        (services.DOC_ID, "abc123"),
        (common.ID_PATTERN, "abc123"),
        (indexes._DB_NAME, "bx_1_abc"),
        (indexes._FIELD, "-score"),
        (parser._NAME, "posts"),
        (parser._SEGMENT, "meta"),
        (parser._DOC_ID, "abc123"),
        (batch._PATH, "/api/v1/collections/posts/documents"),
        (roles.ROLE_NAME, "moderator"),
        (roles.USER_ID, "u1"),
        (admin.USER_ID, "u1"),
        (sessions.SESSION_ID, "s1"),
        (userdata.USERNAME, "alice"),
        (userdata.FIELD_NAME, "nickname"),
        (auth_settings._URL, "https://app.example/cb"),
        (project_settings._ORIGIN, "https://app.example"),
        (console_users.USER_ID, "u1"),
    ]
    for pattern, valid in cases:
        assert pattern.match(valid), (pattern.pattern, valid)
        for suffix in ("\n", "\r\n", "\n\n"):
            assert not pattern.match(valid + suffix), (pattern.pattern, valid + suffix)


@pytest.mark.django_db
def test_names_with_a_trailing_newline_are_refused_through_the_api(project, secret_client):
    """Collection, field, principal, role, username, ACL and CORS origin: each answers 400, nothing is stored."""
    schema_url = "/api/v1/schema/collections"
    assert secret_client.post(schema_url, {"name": "users\n"}, format="json").status_code == 400
    assert secret_client.post(schema_url, {"name": "notes\n"}, format="json").status_code == 400
    bad_field = {"name": "notes", "fields": {"title\n": {"type": "string"}}}
    assert secret_client.post(schema_url, bad_field, format="json").status_code == 400
    bad_rule = {"name": "notes", "permissions": {"get": ["role:moderator\n"]}}
    assert secret_client.post(schema_url, bad_rule, format="json").status_code == 400
    names = [c["name"] for c in secret_client.get(schema_url).json()["results"]]
    assert "notes" not in names and "notes\n" not in names

    open_notes = {
        "name": "notes",
        "fields": {"title": {"type": "string"}},
        "permissions": {op: ["*"] for op in ("get", "find", "create", "update")},
        "default_acl": "public",
    }
    assert secret_client.post(schema_url, open_notes, format="json").status_code == 201
    docs = "/api/v1/collections/notes/documents"
    refused = secret_client.post(docs, {"title": "x", "acl": {"role:moderator\n": {"read": True}}}, format="json")
    assert refused.status_code == 400
    created = secret_client.post(docs, {"title": "x"}, format="json").json()
    assert secret_client.get(f"{docs}/{created['id']}%0A").status_code == 404

    assert secret_client.post("/api/v1/roles", {"name": "moderator\n"}, format="json").status_code == 400
    pk = key_client(project.publishable)
    signup = {"email": "alice@example.com", "password": "Tr0ub4dor&3-horse", "username": "alice\n"}
    assert pk.post("/api/v1/auth/signup", signup, format="json").status_code == 400

    # The project owner's console account changes its settings.
    from tests.conftest import console_client_for

    owner = console_client_for(project.owner)
    settings_url = f"/api/v1/manage/projects/{project.project.ref}/settings"
    response = owner.patch(settings_url, {"cors_origins": ["https://app.example\n"]}, format="json")
    assert response.status_code == 400, response.content
