"""Sessions, CSRF and the signed-in account run only where a browser's cookies authenticate.

The data API and the Parse face skip those layers for speed (basalt.core.middleware); the console,
its management API and its live collection view must keep them, or a cookie-carrying browser
request there would lose CSRF protection."""

from __future__ import annotations

import pytest
from django.test import Client

from basalt.core.middleware import key_authenticated


@pytest.mark.parametrize(
    "path",
    [
        "/console/signin",
        "/console/projects/abc/data/posts",
        "/api/v1/manage/projects",
        "/api/v1/manage/auth/jwt/create/",
        "/api/v1/realtime/console/abc/posts",
        "/",
        "/parse",  # not under /parse/: whatever answers it keeps the browser layers
        "/api/v1manage/x",
    ],
)
def test_browser_routes_keep_sessions_and_csrf(path):
    assert not key_authenticated(path)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/collections/posts/documents",
        "/api/v1/auth/signin",
        "/api/v1/realtime/sse",
        "/api/v1/files/abc",
        "/parse/classes/GameScore",
        "/healthz",
    ],
)
def test_key_authenticated_routes_skip_them(path):
    assert key_authenticated(path)


@pytest.mark.django_db
def test_a_console_form_still_needs_its_csrf_token_and_sets_the_cookie():
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/console/signin")
    assert "csrftoken" in page.cookies
    assert browser.post("/console/signin", {"email": "a@example.com", "password": "x"}).status_code == 403


@pytest.mark.django_db
def test_a_data_api_answer_neither_sets_nor_varies_on_cookies(project):
    response = Client(enforce_csrf_checks=True).get(
        "/api/v1/collections/nothing/documents",
        HTTP_X_API_KEY=project.secret,
        HTTP_COOKIE="sessionid=forged; csrftoken=forged",
    )
    assert response.status_code == 404
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
