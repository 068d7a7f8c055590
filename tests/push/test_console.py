"""The console Push page: composer (live count, send, test to one device), history, installations, providers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def _owner_on_the_push_page(live_server, project, monkeypatch, scenario: str) -> Iterator[tuple]:
    """Chromium signed in as the project's owner on the push page: (page, screenshots, console errors)."""
    project.owner.set_password("a long enough passphrase")
    project.owner.save()
    errors: list[str] = []
    with launched_chromium(monkeypatch) as browser:
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto("/console/signin")
        page.get_by_label("Email").fill(project.owner.email)
        page.get_by_label("Password").fill("a long enough passphrase")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r".*/console/(projects|p/).*"))
        page.goto(f"/console/p/{project.project.ref}/push")
        yield page, Shots(page, scenario), errors
        context.close()


@pytest.mark.browser
def test_push_page_in_a_browser_live_count_and_send(live_server, twins, project, monkeypatch):
    device = key_client(project.publishable)
    register(device, "fcm", "n" * 30, channels=["news"])
    register(device, "fcm", "s" * 30, channels=["sport"])
    with _owner_on_the_push_page(live_server, project, monkeypatch, "push") as (page, shot, errors):
        try:
            page.locator("#push-count").filter(has_text="2").wait_for()
        except Exception:
            shot("count-missing")
            raise AssertionError(f"{page.url} {errors} {page.locator('#push-count-split').inner_text()}") from None
        page.locator("input[name=audience_mode][value=channels]").check()
        page.locator("#push-composer input[name=channels]").fill("news")
        page.locator("#push-count").filter(has_text="1").wait_for()
        shot("composer")
        page.locator("input[name=title]").fill("Breaking")
        page.locator("#push-send").click()
        page.locator("#push-history tbody tr").first.wait_for()
        row = page.locator("#push-history tbody tr").first.inner_text()
        shot("history")
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


def _channels(project, installation_id: str) -> list[str]:
    return key_client(project.secret).get(f"/api/v1/installations/{installation_id}").json()["channels"]


def _installation_writes(project) -> int:
    from basalt.documents.models import ChangeLogEntry

    return ChangeLogEntry.objects.filter(project_id=project.project.pk, collection="installations").count()


def test_owner_subscribes_and_unsubscribes_a_device_with_a_change_log_row_and_an_audit_entry(project, twins):
    from basalt.operations.models import AuditEntry

    news = register(key_client(project.publishable), "fcm", "n" * 30, channels=["news"])
    owner = _signed_in(project.owner)
    url = f"/console/p/{project.project.ref}/push/installations/{news['id']}/channels"
    html = owner.get(f"/console/p/{project.project.ref}/push").content.decode()
    assert f'action="{url}"' in html and 'data-channel="news"' in html
    # The device subscribes itself after the page was drawn: the console's add must not undo it.
    register(key_client(project.publishable), "fcm", "n" * 30, channels={"__op": "add_unique", "items": ["promo"]})
    writes = _installation_writes(project)
    added = owner.post(url, {"op": "add", "channels": " sport, weather ,sport,"}, follow=True)
    assert added.status_code == 200 and "now in: news, promo, sport, weather" in added.content.decode()
    assert _channels(project, news["id"]) == ["news", "promo", "sport", "weather"]
    assert 'data-channel="weather"' in added.content.decode()
    assert owner.post(url, {"op": "remove", "channels": "news"}).status_code == 302
    assert _channels(project, news["id"]) == ["promo", "sport", "weather"]
    html = owner.get(f"/console/p/{project.project.ref}/push").content.decode()
    assert 'data-channel="news"' not in html and 'data-channel="sport"' in html
    assert _installation_writes(project) == writes + 2  # realtime and webhooks hear it like an API change
    entries = AuditEntry.objects.filter(project=project.project, target=f"installations/{news['id']}/channels")
    assert [(e.via, e.summary["request"]["op"]) for e in entries.order_by("id")] == [
        ("console", "add"),
        ("console", "remove"),
    ]


def test_viewer_sees_channels_but_cannot_change_them(project, twins, make_account):
    news = register(key_client(project.publishable), "fcm", "n" * 30, channels=["news"])
    viewer = make_account()
    services.join_project(project.project, viewer, "viewer")
    client = _signed_in(viewer)
    base = f"/console/p/{project.project.ref}/push"
    html = client.get(base).content.decode()
    assert 'data-channel="news"' in html and "/channels" not in html  # no add or remove form
    url = f"{base}/installations/{news['id']}/channels"
    assert client.post(url, {"op": "add", "channels": "sport"}).status_code == 403
    assert client.post(url, {"op": "remove", "channels": "news"}).status_code == 403
    assert _channels(project, news["id"]) == ["news"]


def test_hostile_channel_input_is_refused_on_the_page_and_nothing_is_written(project, twins):
    from basalt.operations.models import AuditEntry

    news = register(key_client(project.publishable), "fcm", "n" * 30, channels=["news"])
    full = register(key_client(project.publishable), "fcm", "f" * 30, channels=[f"c{n}" for n in range(99)])
    owner = _signed_in(project.owner)
    base = f"/console/p/{project.project.ref}/push/installations"
    writes = _installation_writes(project)
    cases = [
        (news, "sport, bad name!", "Channel names are 1 to 64"),  # one bad name: the good one is not added either
        (news, "<script>alert(1)</script>", "Channel names are 1 to 64"),
        (news, "x" * 65, "Channel names are 1 to 64"),
        (news, ",".join(f"n{n}" for n in range(101)), "at most 100"),
        (full, "one, two", "at most 100"),  # 99 + 2 is past the limit too
        (news, "a," * 200_000, "at most 100"),
        (news, " , ,", "Name at least one channel."),
        (news, "news\x00", "Channel names are 1 to 64"),
    ]
    for device, text, message in cases:
        answer = owner.post(f"{base}/{device['id']}/channels", {"op": "add", "channels": text})
        html = answer.content.decode()
        assert answer.status_code == 400 and message in html and 'id="channels-error"' in html, text[:40]
        assert "<script>alert" not in html and len(html) < 200_000
    removed = owner.post(f"{base}/{news['id']}/channels", {"op": "remove", "channels": "news, ../x"})
    assert removed.status_code == 400 and "Channel names are 1 to 64" in removed.content.decode()
    assert _channels(project, news["id"]) == ["news"] and len(_channels(project, full["id"])) == 99
    assert _installation_writes(project) == writes
    assert not AuditEntry.objects.filter(project=project.project, target__startswith="installations/").exists()


def test_another_projects_device_and_unknown_ids_are_not_found(project, twins, make_project):
    mine = register(key_client(project.publishable), "fcm", "m" * 30, channels=["news"])
    other = make_project("Other")
    theirs = register(key_client(other.publishable), "fcm", "t" * 30, channels=["news"])
    owner = _signed_in(project.owner)
    base = f"/console/p/{project.project.ref}/push/installations"
    assert owner.post(f"{base}/{mine['id']}/channels", {"channels": "sport"}).status_code == 302
    for installation_id in (theirs["id"], "a" * 20, "nope"):
        answer = owner.post(f"{base}/{installation_id}/channels", {"op": "remove", "channels": "news"})
        assert answer.status_code == 404 and "No such installation in this project" in answer.content.decode()
    foreign = f"/console/p/{other.project.ref}/push/installations/{theirs['id']}/channels"
    assert owner.post(foreign, {"op": "remove", "channels": "news"}).status_code == 404
    assert _channels(other, theirs["id"]) == ["news"]
    assert _channels(project, mine["id"]) == ["news", "sport"]


def test_channel_forms_need_the_csrf_token(project, twins):
    news = register(key_client(project.publishable), "fcm", "n" * 30, channels=["news"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(project.owner, backend="django.contrib.auth.backends.ModelBackend")
    url = f"/console/p/{project.project.ref}/push/installations/{news['id']}/channels"
    assert client.post(url, {"op": "add", "channels": "sport"}).status_code == 403
    assert _channels(project, news["id"]) == ["news"]
    html = client.get(f"/console/p/{project.project.ref}/push").content.decode()
    form = html[html.index(f'action="{url}"') :]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1]
    answer = client.post(url, {"op": "add", "channels": "sport", "csrfmiddlewaretoken": token})
    assert answer.status_code == 302 and _channels(project, news["id"]) == ["news", "sport"]


@pytest.mark.browser
def test_push_page_in_a_browser_subscribe_and_unsubscribe_a_device(live_server, twins, project, monkeypatch):
    news = register(key_client(project.publishable), "fcm", "n" * 30, channels=["news"])
    with _owner_on_the_push_page(live_server, project, monkeypatch, "push-channels") as (page, shot, errors):
        cell = page.locator(f'td[data-channels="{news["id"]}"]')  # found again after each swap
        box = cell.get_by_label(f"Channels to add to {news['id']}")
        box.fill("sport, promo")
        cell.get_by_role("button", name="Add").click()
        cell.locator('[data-channel="promo"]').wait_for()
        shot("added")
        cell.get_by_role("button", name=f"Remove news from {news['id']}").click()
        cell.locator('[data-channel="news"]').wait_for(state="detached")
        box.fill("bad name")
        cell.get_by_role("button", name="Add").click()
        alert = page.locator("#channels-error").inner_text()
        kept = box.input_value()
        shown = sorted(cell.locator("[data-channel]").all_inner_texts())
        shot("refused")
    assert "Channel names are 1 to 64" in alert and kept == "bad name"
    assert [text.replace("×", "").strip() for text in shown] == ["promo", "sport"]
    assert _channels(project, news["id"]) == ["promo", "sport"]
    # The refused form's page comes back as a 400 (nothing saved), which Chromium reports.
    assert errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"], errors


@pytest.mark.browser
def test_the_composer_count_is_live_on_a_push_page_swapped_in_by_htmx_and_asks_once(
    live_server, twins, project, monkeypatch
):
    """After a refused channel form (a 400 page swapped in by htmx, twice) the composer's count is
    live again; one change of the audience asks the server once, on the first page and the last."""
    from playwright.sync_api import expect

    device = key_client(project.publishable)
    news = register(device, "fcm", "n" * 30, channels=["news"])
    register(device, "fcm", "s" * 30, channels=["sport"])
    register(device, "fcm", "t" * 30, channels=["sport"])
    with _owner_on_the_push_page(live_server, project, monkeypatch, "push-swapped") as (page, shot, errors):
        asked: list[str] = []
        page.on("request", lambda r: "/push/audience" in r.url and asked.append(r.url))
        channels = page.locator("#push-composer input[name=channels]")

        def asks_once_per_change() -> list[str]:
            page.locator("input[name=audience_mode][value=channels]").check()
            channels.fill("news")
            expect(page.locator("#push-count")).to_have_text("1")
            asked.clear()
            with page.expect_response(lambda r: "/push/audience" in r.url and "sport" in r.url):
                channels.fill("sport")
            expect(page.locator("#push-count")).to_have_text("2")
            return list(asked)

        expect(page.locator("#push-count")).to_have_text("3")
        on_first_page = asks_once_per_change()
        cell = page.locator(f'td[data-channels="{news["id"]}"]')
        for attempt in ("bad name", "still bad"):
            # Marks this page's composer, so the wait below is for the page htmx swaps in.
            page.locator("#push-composer").evaluate("form => { form.dataset.before = 'swap'; }")
            cell.get_by_label(f"Channels to add to {news['id']}").fill(attempt)
            cell.get_by_role("button", name="Add").click()
            page.locator("#push-composer[data-before]").wait_for(state="detached")
            expect(page.locator("#channels-error")).to_be_visible()
            try:
                expect(page.locator("#push-count")).to_have_text("3")
            except AssertionError:
                shot("count-stuck")
                raise
        on_swapped_page = asks_once_per_change()
        shot("live-after-swaps")
    assert len(on_first_page) == 1 and "channels=sport" in on_first_page[0], on_first_page
    assert len(on_swapped_page) == 1 and "channels=sport" in on_swapped_page[0], on_swapped_page
    assert set(errors) == {"Failed to load resource: the server responded with a status of 400 (Bad Request)"}, errors
