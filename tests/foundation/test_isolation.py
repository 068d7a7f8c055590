"""Cross-project isolation on every /api/v1/ route, found by walking Django's URL resolver.

Routes added later by any area are covered without editing this file: each route's path
parameters are filled with project A's real ids, then called with every credential project B
holds. For B, A's objects must be indistinguishable from objects that do not exist, no
response may carry A's data, and nothing of A may change. A's own credentials are the control.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from tests.conftest import console_client_for

pytestmark = pytest.mark.django_db

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DENIED = {401, 403, 404, 405}
_GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)")

# Console sign-up and sign-in take no project and no object id; they authenticate by what is in
# the body, so "another project's credentials" has no meaning for them. Their own tests
# (test_console_accounts.py) cover enumeration, throttling and token separation.
EXCLUDED = {
    "api/v1/manage/auth/^jwt/create/?$": "console sign-in: no project, credentials are the body",
    "api/v1/manage/auth/^jwt/refresh/?$": "console token refresh: no project, the refresh token is the body",
    "api/v1/manage/auth/^users/?$": "console sign-up (POST) / own-account listing: no project",
    "api/v1/manage/auth/^users/activation/?$": "console e-mail activation: uid+token in the body, no project",
    "api/v1/manage/auth/^users/resend_activation/?$": "console activation e-mail: no project",
    "api/v1/manage/auth/^users/reset_password/?$": "console password reset request: no project",
    "api/v1/manage/auth/^users/reset_password_confirm/?$": "console password reset: uid+token in the body",
    "api/v1/manage/auth/^users/reset_email/?$": "console e-mail reset request: no project",
    "api/v1/manage/auth/^users/reset_email_confirm/?$": "console e-mail reset: uid+token in the body",
    # An endless event stream (not a request/response): cross-project use is refused in
    # tests/realtime/test_sse.py::test_sse_streams_belong_to_their_project.
    "api/v1/^realtime/sse/?$": "realtime SSE stream of the caller's own project",
    "api/v1/^realtime/sse/(?P<connection_id>[a-z0-9]{1,64})/?$": "realtime SSE message to one's own stream",
}


def api_routes() -> list[tuple[str, object]]:
    """Every routed (pattern, callback) under /api/v1/, except the catch-all 404."""
    found = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.append((prefix + str(pattern.pattern), pattern.callback))

    walk(get_resolver().url_patterns)
    return [(p, cb) for p, cb in found if p.replace("^", "").startswith("api/v1/")]


def fill(pattern: str, values: dict[str, str]) -> str:
    """Turn a route regex into a concrete path with the given parameter values."""
    if "roles/" in pattern and "role" in values:
        values = {**values, "name": values["role"]}  # under /roles, {name} is a role, not a collection
    path = _GROUP.sub(lambda m: values[m.group(1)], pattern)
    path = path.replace("^", "").replace("$", "").replace("/?", "/").replace("\\.", ".")
    assert not re.search(r"[\\()\[\]?*+{}|]", path), f"cannot build a path from route {pattern!r}"
    return "/" + path


def param_names(pattern: str) -> list[str]:
    return [m.group(1) for m in _GROUP.finditer(pattern)]


@dataclass
class World:
    """Project A (the victim) with real objects behind every kind of id, and project B's credentials."""

    ref: str
    a_project: object
    values: dict[str, str]
    markers: set[str]
    a_console: APIClient
    a_data: dict[str, str]  # headers for A's control requests on the data API
    attackers: dict[str, dict[str, str]] = field(default_factory=dict)


def _client(headers: dict[str, str]) -> APIClient:
    client = APIClient()
    client.credentials(**headers)
    return client


def _ok(response, what: str) -> dict:
    assert response.status_code in (200, 201), (what, response.status_code, response.content[:300])
    return response.json()


@pytest.fixture
def world(make_project) -> World:
    from basalt.projects.models import ApiKey

    tag = secrets.token_hex(4)
    a = make_project(f"Alpha {tag}")
    b = make_project(f"Bravo {tag}")
    a_secret = _client({"HTTP_X_API_KEY": a.secret})
    a_public = _client({"HTTP_X_API_KEY": a.publishable})
    collection = f"isoa_{tag}"
    role = f"isoarole_{tag}"
    marker = f"alpha-secret-{tag}"
    everyone = ["*"]
    _ok(
        a_secret.post(
            "/api/v1/schema/collections",
            {
                "name": collection,
                "fields": {"title": {"type": "string"}},
                "permissions": dict.fromkeys(("get", "find", "count", "create", "update", "delete"), everyone),
                "default_acl": "public",
            },
            format="json",
        ),
        "create A's collection",
    )
    doc = _ok(
        a_secret.post(f"/api/v1/collections/{collection}/documents", {"title": marker}, format="json"), "A's document"
    )
    user = _ok(
        a_public.post(
            "/api/v1/auth/signup",
            {"email": f"alice-{tag}@example.com", "password": "correct horse battery"},
            format="json",
        ),
        "A's end-user",
    )
    a_user_headers = {"HTTP_X_API_KEY": a.publishable, "HTTP_AUTHORIZATION": f"Bearer {user['access_token']}"}
    sessions = _ok(_client(a_user_headers).get("/api/v1/auth/sessions"), "A's sessions")
    _ok(a_secret.post("/api/v1/roles", {"name": role}, format="json"), "A's role")

    a_file = _ok(
        a_secret.generic("POST", "/api/v1/files?name=alpha.txt", marker.encode(), content_type="text/plain"),
        "A's file",
    )
    tus = a_secret.post("/api/v1/files/tus", HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH="10")
    assert tus.status_code == 201, tus.content
    upload_id = tus["Location"].rsplit("/", 1)[1]

    b_user = _ok(
        _client({"HTTP_X_API_KEY": b.publishable}).post(
            "/api/v1/auth/signup",
            {"email": f"bob-{tag}@example.com", "password": "correct horse battery"},
            format="json",
        ),
        "B's end-user",
    )
    b_console = console_client_for(b.owner)._credentials["HTTP_AUTHORIZATION"]
    a_keys = list(ApiKey.objects.filter(project=a.project).values_list("id", flat=True))
    member = a.project.memberships.get()
    from basalt.projects.invitations import invite_member

    invitee = f"invitee-{tag}@example.com"
    invitation = invite_member(a.owner, a.project.ref, invitee, "viewer", accept_url="http://testserver/{token}")
    from django.db import transaction

    from basalt.hooks import dispatch, job_services
    from basalt.hooks import services as hook_services

    endpoint = hook_services.create_endpoint(
        a.owner, a.project.ref, {"url": "http://93.184.216.34/h", "events": ["documents.create"]}
    ).endpoint
    with transaction.atomic():
        (delivery,) = dispatch.emit(a.project.id, "webhook.ping", {}, endpoint=endpoint)
    job = job_services.create_job(
        a.owner,
        a.project.ref,
        {"name": "j", "kind": "webhook", "cron": "0 3 * * *", "config": {"url": "http://93.184.216.34/j"}},
    ).job
    # Operations: a finished export of A (status and archive), an import and a clone of A.
    from basalt.operations import transfers
    from basalt.operations.models import Transfer

    export = Transfer.objects.create(project=a.project, kind=Transfer.EXPORT)
    transfers.run(export.id)
    imported = Transfer.objects.create(project=a.project, kind=Transfer.IMPORT, status=Transfer.FAILED)
    cloned = Transfer.objects.create(project=a.project, kind=Transfer.CLONE, source_ref=a.project.ref)
    # Push (basalt.push): an installation, a scheduled push, and Web Push keys (the public key route).
    from basalt.projects.project_settings import update_settings

    update_settings(a.project, {"push": {"webpush": {"generate": True}}})
    installation = _ok(
        a_public.post(
            "/api/v1/installations",
            {"platform": "android", "provider": "fcm", "token": f"alpha-token-{tag}-" + "x" * 20},
            format="json",
        ),
        "A's installation",
    )
    push = a_secret.post(
        "/api/v1/push",
        {"audience": {}, "notification": {"title": marker}, "send_at": "2026-12-31T00:00:00Z"},
        format="json",
    ).json()
    values = {
        "endpoint_id": endpoint.id,
        "delivery_id": delivery.id,
        "job_id": job.id,
        "export_id": export.id,
        "import_id": imported.id,
        "clone_id": cloned.id,
        "ref": a.project.ref,
        "installation_id": installation["id"],
        "push_id": push["id"],
        "key_id": a_keys[0],
        "member_id": str(member.pk),
        "invitation_id": invitation.pk,
        "name": collection,
        "collection": collection,
        "doc_id": doc["id"],
        "user_id": user["user"]["id"],
        "session_id": sessions["results"][0]["id"],
        "child": role,
        "role": role,
        "id": str(a.owner.pk),
        "provider": "google",
        "passkey_id": str(_passkey_of(a.project, user["user"]["id"], tag)),
        "file_id": a_file["id"],
        "upload_id": upload_id,
    }
    return World(
        ref=a.project.ref,
        a_project=a.project,
        values=values,
        markers={
            a.project.ref,
            a.project.name,
            a.secret,
            a.publishable,
            a.owner.email,
            collection,
            role,
            marker,
            doc["id"],
            user["user"]["id"],
            user["user"]["email"],
            sessions["results"][0]["id"],
            invitee,
            invitation.pk,
            a_file["id"],
            upload_id,
            installation["id"],
            installation["token"],
            push["id"],
            *a_keys,
        },
        a_console=console_client_for(a.owner),
        a_data={"HTTP_X_API_KEY": a.secret, "HTTP_AUTHORIZATION": f"Bearer {user['access_token']}"},
        attackers={
            "B publishable key": {"HTTP_X_API_KEY": b.publishable},
            "B secret key": {"HTTP_X_API_KEY": b.secret},
            "B end-user": {"HTTP_X_API_KEY": b.publishable, "HTTP_AUTHORIZATION": f"Bearer {b_user['access_token']}"},
            "B key + A's user token": {
                "HTTP_X_API_KEY": b.secret,
                "HTTP_AUTHORIZATION": f"Bearer {user['access_token']}",
            },
            "B console owner": {"HTTP_AUTHORIZATION": b_console},
            "B console + B secret key": {"HTTP_AUTHORIZATION": b_console, "HTTP_X_API_KEY": b.secret},
            "no credentials": {},
        },
    )


def a_rows(project) -> dict[str, list[str]]:
    """Every row of every model that belongs to project A (any model with a `project` field)."""
    rows: dict[str, list[str]] = {"project": [repr(type(project).objects.filter(pk=project.pk).values().first())]}
    for model in apps.get_models():
        names = {f.name for f in model._meta.get_fields()}
        if "project" in names:
            qs = model.objects.filter(project=project).order_by("pk").values()
            rows[model._meta.label] = sorted(map(repr, qs))
    return rows


def _leaks(response, path: str, markers: set[str]) -> set[str]:
    text = response.content.decode("utf-8", "replace")
    return {m for m in markers if m in text and m not in path}


def test_the_walker_finds_the_routes_it_must_cover():
    """The resolver walk is real: it sees routes of every area mounted so far."""
    patterns = [p for p, _ in api_routes()]
    assert any("manage/^projects/(?P<ref>" in p for p in patterns)
    assert any("keys/(?P<key_id>" in p for p in patterns)
    assert any(p.endswith("^api/v1/project/?$") for p in patterns)
    assert len(patterns) >= 10


def test_exclusions_name_real_routes():
    """An exclusion for a route that no longer exists would silently widen the next one's gap."""
    patterns = {p for p, _ in api_routes()}
    assert set(EXCLUDED) <= patterns, sorted(set(EXCLUDED) - patterns)


def _passkey_of(project, user_id: str, tag: str) -> int:
    """A passkey row of A's user (the WebAuthn ceremony itself is tested in tests/identity)."""
    from basalt.identity.models import Passkey

    return Passkey.objects.create(project=project, user_id=user_id, credential_id=f"iso-{tag}", public_key="AA").pk


def test_no_route_of_project_a_answers_project_b(world: World):
    a_before = a_rows(world.a_project)
    problems: list[str] = []
    checked = 0
    for pattern, callback in api_routes():
        if pattern in EXCLUDED:
            continue
        names = param_names(pattern)
        unknown = [n for n in names if n not in world.values]
        assert not unknown, f"route {pattern!r} has parameters {unknown}: teach test_isolation.World what they name"
        path = fill(pattern, world.values)
        assert resolve(path).func is callback, f"{path} does not resolve back to {pattern!r}"
        decoy = fill(pattern, {n: f"zz{secrets.token_hex(6)}" if n != "provider" else "google" for n in names})
        names_a_object = any(n != "provider" for n in names)
        for who, headers in world.attackers.items():
            client = _client(headers)
            for method in METHODS:
                send = getattr(client, method.lower())
                response = send(path, {}, format="json") if method != "GET" else send(path)
                checked += 1
                where = f"{method} {path} as {who}"
                leaked = _leaks(response, path, world.markers)
                if leaked:
                    problems.append(f"{where}: response contains A's {sorted(leaked)}")
                if response.status_code >= 500:
                    problems.append(f"{where}: {response.status_code}")
                if not names_a_object:
                    continue
                if response.status_code in DENIED:
                    continue
                # A 400 is only fine when a non-existent id gets the very same answer: then it
                # says nothing about A's object.
                decoy_response = send(decoy, {}, format="json") if method != "GET" else send(decoy)
                same = decoy_response.status_code == response.status_code and _code(decoy_response) == _code(response)
                if not (response.status_code == 400 and same):
                    problems.append(f"{where}: {response.status_code} {response.content[:160]!r}")
    assert checked > 100
    assert not problems, "\n".join(problems)
    assert a_rows(world.a_project) == a_before, "project B's requests changed project A's rows"


def _code(response) -> str | None:
    try:
        return response.json().get("error", {}).get("code")
    except Exception:
        return None


def test_project_a_reaches_its_own_routes(world: World):
    """The control: with A's credentials, A's ids are found (so the attack above used real ids)."""
    problems = []
    for pattern, _callback in api_routes():
        if pattern in EXCLUDED:
            continue
        if "realtime/console/" in pattern:
            # A console browser session (cookie), not a key or bearer token, opens the live data
            # stream: its control is tests/realtime/test_console_live.py.
            continue
        path = fill(pattern, world.values)
        client = world.a_console if "/manage/" in path else _client(world.a_data)
        response = client.get(path)
        if response.status_code in (401, 404) or response.status_code >= 500:
            problems.append(f"GET {path}: {response.status_code} {response.content[:160]!r}")
    assert not problems, "\n".join(problems)


def test_a_users_token_with_bs_key_is_invalid_token(world: World):
    """API.md §1: a token of project A used with a key of project B is 401 invalid_token."""
    headers = world.attackers["B key + A's user token"]
    for path in ("/api/v1/auth/me", "/api/v1/project", f"/api/v1/collections/{world.values['name']}/documents"):
        response = _client(headers).get(path)
        assert response.status_code == 401, (path, response.content)
        assert response.json()["error"]["code"] == "invalid_token"


def test_deleted_project_leaves_nothing_reachable(make_project):
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import UserObjectPermission

    from basalt.projects.models import Project

    doomed = make_project("Doomed")
    owner = console_client_for(doomed.owner)
    pk = doomed.project.pk
    assert owner.delete(f"/api/v1/manage/projects/{doomed.project.ref}").status_code == 204
    assert owner.get(f"/api/v1/manage/projects/{doomed.project.ref}").status_code == 404
    for key in (doomed.secret, doomed.publishable):
        response = _client({"HTTP_X_API_KEY": key}).get("/api/v1/project")
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    content_type = ContentType.objects.get_for_model(Project)
    assert not UserObjectPermission.objects.filter(content_type=content_type, object_pk=str(pk)).exists()
