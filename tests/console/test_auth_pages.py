"""Console sign-up, sign-in (throttled), sign-out and the security headers on every page."""

from __future__ import annotations

import pytest
from django.test import Client

from basalt.accounts.models import Account

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def test_sign_up_creates_account_signs_in_and_lands_on_projects():
    """A new developer signs up and lands on the (empty) project list, signed in."""
    client = Client()
    response = client.post("/console/signup", {"email": "New@Example.com", "password": "a long passphrase"})
    assert response.status_code == 302 and response["Location"] == "/console/projects"
    assert Account.objects.filter(email="new@example.com").exists()
    page = client.get("/console/projects")
    assert page.status_code == 200 and b"No projects yet" in page.content


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("dev@example.com", "short", b"too short"),
        ("dev@example.com", "password", b"too common"),
        ("not-an-email", "a long passphrase", b"valid email"),
        ("", "a long passphrase", b"required"),
    ],
)
def test_sign_up_errors_are_shown_next_to_the_field_and_nothing_is_created(email, password, message):
    """Invalid sign-ups answer 400 with the reason in words; no account is created."""
    response = Client().post("/console/signup", {"email": email, "password": password})
    assert response.status_code == 400
    assert message in response.content
    assert b'class="field has-error"' in response.content
    assert Account.objects.count() == 0


def test_sign_up_with_a_taken_email_is_refused(make_account):
    make_account("taken@example.com")
    response = Client().post("/console/signup", {"email": "taken@example.com", "password": "a long passphrase"})
    assert response.status_code == 400
    assert Account.objects.filter(email="taken@example.com").count() == 1


def test_sign_up_closed_refuses(settings):
    settings.CONSOLE_SIGNUP_OPEN = False
    response = Client().post("/console/signup", {"email": "x@example.com", "password": "a long passphrase"})
    assert response.status_code == 403
    assert not Account.objects.exists()


def test_sign_in_and_sign_out(make_account):
    make_account("ada@example.com", PASSWORD)
    client = Client()
    response = client.post("/console/signin", {"email": "ADA@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/console/projects"
    assert client.get("/console/projects").status_code == 200
    # Sign-out is POST only (CSRF-protected): a GET (a reload of the address) lands on a page instead.
    assert client.get("/console/signout", follow=True).status_code == 200
    assert client.get("/console/projects").status_code == 200
    assert client.post("/console/signout").status_code == 302
    assert client.get("/console/projects").status_code == 302


def test_wrong_password_and_unknown_email_look_the_same(make_account):
    make_account("ada@example.com", PASSWORD)
    wrong = Client().post("/console/signin", {"email": "ada@example.com", "password": "nope nope nope"})
    unknown = Client().post("/console/signin", {"email": "who@example.com", "password": "nope nope nope"})
    assert wrong.status_code == unknown.status_code == 400
    assert b"do not match an account" in wrong.content and b"do not match an account" in unknown.content


def test_failed_sign_ins_lock_the_guessing_address_not_the_owner(make_account):
    """Five failures lock sign-in to that account from that address only (even the right password);
    the owner, from another address, still signs in (it used to be locked out for everyone)."""
    make_account("ada@example.com", PASSWORD)
    guesser = Client(REMOTE_ADDR="10.0.0.1")
    for _ in range(5):
        assert (
            guesser.post("/console/signin", {"email": "ada@example.com", "password": "bad guess!"}).status_code == 400
        )
    blocked = guesser.post("/console/signin", {"email": "ada@example.com", "password": PASSWORD})
    assert blocked.status_code == 429
    assert b"Too many failed attempts" in blocked.content
    assert int(blocked["Retry-After"]) > 0
    assert "_auth_user_id" not in blocked.wsgi_request.session
    owner = Client(REMOTE_ADDR="10.0.0.99")
    assert owner.post("/console/signin", {"email": "ada@example.com", "password": PASSWORD}).status_code == 302


def test_failures_spread_over_addresses_never_lock_the_owner_out(make_account):
    make_account("ada@example.com", PASSWORD)
    for n in range(12):
        client = Client(REMOTE_ADDR=f"10.0.1.{n}")
        assert client.post("/console/signin", {"email": "ada@example.com", "password": "bad guess!"}).status_code == 400
    owner = Client(REMOTE_ADDR="10.0.1.200")
    assert owner.post("/console/signin", {"email": "ada@example.com", "password": PASSWORD}).status_code == 302


def test_sign_in_is_throttled_per_client_across_emails(make_account, settings):
    settings.CONSOLE_SIGNIN_FAILURES_PER_ADDRESS = 3
    make_account("ada@example.com", PASSWORD)
    client = Client(REMOTE_ADDR="10.9.9.9")
    for n in range(3):
        client.post("/console/signin", {"email": f"guess{n}@example.com", "password": "bad guess!"})
    assert client.post("/console/signin", {"email": "ada@example.com", "password": PASSWORD}).status_code == 429


def test_next_parameter_only_redirects_inside_the_console(make_account):
    make_account("ada@example.com", PASSWORD)
    evil = Client().post(
        "/console/signin?next=https://evil.example/", {"email": "ada@example.com", "password": PASSWORD}
    )
    assert evil["Location"] == "/console/projects"
    good = Client().post(
        "/console/signin", {"email": "ada@example.com", "password": PASSWORD, "next": "/console/projects?x=1"}
    )
    assert good["Location"] == "/console/projects?x=1"


def test_anonymous_visitors_are_sent_to_sign_in(project):
    response = Client().get(f"/console/p/{project.project.ref}/settings")
    assert response.status_code == 302
    assert response["Location"].startswith("/console/signin?next=")


def test_forms_require_csrf(make_account):
    make_account("ada@example.com", PASSWORD)
    client = Client(enforce_csrf_checks=True)
    assert client.post("/console/signin", {"email": "ada@example.com", "password": PASSWORD}).status_code == 403


@pytest.mark.parametrize("url", ["/console/signin", "/console/signup"])
def test_security_headers(url):
    response = Client().get(url)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script_or_style(owner_client, project):
    """The CSP forbids inline code, so the markup must not contain any."""
    for url in [
        "/console/projects",
        f"/console/p/{project.project.ref}/",
        f"/console/p/{project.project.ref}/settings",
    ]:
        html = owner_client.get(url).content.decode()
        assert "<script>" not in html and "<style" not in html and " style=" not in html
        assert " onclick=" not in html and "javascript:" not in html
