"""The console Push page: composer (live count, send, test to one device), history, installations, providers."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from basalt.projects import services
from tests.console.browser import Shots, launched_chromium
from tests.push.conftest import key_client, register

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_in(account) -> Client:
    client = Client()
    client.force_login(account, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_owner_composes_sends_and_sees_history_and_devices(project, twins):
    device = key_client(project.publishable)
    news = register(device, "fcm", "n" * 30, channels=["news"])
    register(device, "apns", "ab" * 32)
    owner = _signed_in(project.owner)
    base = f"/console/p/{project.project.ref}/push"
    count = owner.get(f"{base}/audience", {"audience_mode": "channels", "channels": "news"}).json()
    assert count["targeted"] == 1 and count["providers"] == {"fcm": 1}
    bad = owner.get(f"{base}/audience", {"audience_mode": "where", "where": '{"nope": 1}'})
    assert bad.status_code == 400 and "error" in bad.json()
    sent = owner.post(f"{base}/send", {"audience_mode": "all", "title": "Hello", "priority": "high"})
    assert sent.status_code == 302
    assert sorted(token for token, *_ in twins["fcm"].sent + twins["apns"].sent) == sorted(["n" * 30, "ab" * 32])
    owner.post(f"{base}/send", {"test_installation": news["id"], "title": "Only you"})
    assert [t["title"] for token, t, *_ in twins["fcm"].sent] == ["Hello", "Only you"]
    html = owner.get(base).content.decode()
    assert "push-history" in html and html.count('data-push="p_') == 2 and news["id"] in html
    refused = owner.post(f"{base}/send", {"audience_mode": "where", "where": "{", "title": "x"}, follow=True)
    assert "not valid JSON" in refused.content.decode()


def test_viewer_reads_but_cannot_send_or_change_providers(project, twins, make_account):
    viewer = make_account()
    services.join_project(project.project, viewer, "viewer")
    client = _signed_in(viewer)
    base = f"/console/p/{project.project.ref}/push"
    assert client.get(base).status_code == 200
    assert client.post(f"{base}/send", {"title": "x"}).status_code == 403
    assert client.post(f"{base}/providers", {"provider": "webpush"}).status_code == 403
    assert twins["fcm"].sent == []


def test_provider_settings_from_the_console_are_validated_and_never_shown(project):
    from tests.push import keys

    owner = _signed_in(project.owner)
    base = f"/console/p/{project.project.ref}/push"
    section = keys.apns_section()
    answer = owner.post(
        f"{base}/providers",
        {
            "provider": "apns",
            "p8_text": section["key"],
            "key_id": section["key_id"],
            "team_id": section["team_id"],
            "bundle_id": section["bundle_id"],
        },
        follow=True,
    ).content.decode()
    assert "apns settings saved" in answer and "com.example.app" in answer and "PRIVATE KEY" not in answer
    bad = owner.post(f"{base}/providers", {"provider": "fcm", "service_account_json": "{}"}, follow=True)
    assert "service account" in bad.content.decode().lower()
    owner.post(f"{base}/providers", {"provider": "webpush", "subject": "mailto:ops@example.com"})
    project.project.refresh_from_db()
    public = project.project.settings["push"]["webpush"]["public_key"]
    assert public in owner.get(base).content.decode()


@pytest.mark.browser
def test_push_page_in_a_browser_live_count_and_send(live_server, twins, project, monkeypatch):
    device = key_client(project.publishable)
    register(device, "fcm", "n" * 30, channels=["news"])
    register(device, "fcm", "s" * 30, channels=["sport"])
    project.owner.set_password("a long enough passphrase")
    project.owner.save()
    errors: list[str] = []
    with launched_chromium(monkeypatch) as browser:
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        shot = Shots(page, "push")
        page.goto("/console/signin")
        page.get_by_label("Email").fill(project.owner.email)
        page.get_by_label("Password").fill("a long enough passphrase")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r".*/console/(projects|p/).*"))
        page.goto(f"/console/p/{project.project.ref}/push")
        try:
            page.locator("#push-count").filter(has_text="2").wait_for()
        except Exception:
            shot("count-missing")
            raise AssertionError(f"{page.url} {errors} {page.locator('#push-count-split').inner_text()}") from None
        page.locator("input[name=audience_mode][value=channels]").check()
        page.locator("input[name=channels]").fill("news")
        page.locator("#push-count").filter(has_text="1").wait_for()
        shot("composer")
        page.locator("input[name=title]").fill("Breaking")
        page.locator("#push-send").click()
        page.locator("#push-history tbody tr").first.wait_for()
        row = page.locator("#push-history tbody tr").first.inner_text()
        shot("history")
        context.close()
    assert "done" in row and "Breaking" in row
    assert [token for token, *_ in twins["fcm"].sent] == ["n" * 30]
    assert errors == [], errors
    assert json.dumps(errors) == "[]"


def test_devices_table_shows_custom_fields_and_filters_on_them(project, twins):
    device = key_client(project.publishable)
    giants = register(
        device,
        "fcm",
        "g" * 30,
        custom={
            "favorite_team": "<b>Giants</b>",
            "last_seen": {"__type": "Date", "iso": "2026-12-06T10:00:00Z"},
            "team": {"__type": "Pointer", "collection": "teams", "id": "t1"},
        },
    )
    register(device, "fcm", "j" * 30, custom={"favorite_team": "Jets"})
    owner = _signed_in(project.owner)
    base = f"/console/p/{project.project.ref}/push"
    html = owner.get(base, {"where": json.dumps({"custom.favorite_team": "<b>Giants</b>"})}).content.decode()
    assert "Custom fields" in html and giants["id"] in html and "Jets" not in html
    assert "favorite_team: &lt;b&gt;Giants&lt;/b&gt;" in html  # escaped, never markup
    assert "last_seen: 2026-12-06T10:00:00.000Z" in html and "team: → teams/t1" in html
