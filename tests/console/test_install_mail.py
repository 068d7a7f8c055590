"""Install mail server settings: only install owners change them; a test mail reaches a real
(loopback aiosmtpd) SMTP server; without one, mails stay in the Outbox."""

from __future__ import annotations

import socket

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from basalt.logs.models import MailServer, SentMail

pytestmark = pytest.mark.django_db

URL = "/console/install/mail"


class Inbox:
    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@pytest.fixture
def outbox_backend(settings, tmp_path):
    settings.EMAIL_BACKEND = "basalt.logs.mail.OutboxBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)


@pytest.fixture
def install_owner(browser_for, django_user_model):
    owner = django_user_model.objects.create_superuser("root@example.com", "a long enough passphrase")
    return browser_for(owner)


def test_only_install_owners_see_or_change_the_mail_server(browser_for, outbox_backend):
    member = browser_for()
    assert member.get(URL)["Location"] == "/console/projects"
    assert member.post(URL, {"host": "smtp.evil.example", "port": "25", "action": "save"}).status_code == 404
    assert not MailServer.objects.exists()
    assert "Mail server" not in member.get("/console/projects").content.decode()


def test_a_test_mail_reaches_the_configured_smtp_server(install_owner, smtp, outbox_backend):
    port, inbox = smtp
    page = install_owner.get(URL).content.decode()
    assert 'id="no-smtp"' in page
    saved = install_owner.post(
        URL,
        {
            "host": "127.0.0.1",
            "port": str(port),
            "username": "",
            "password": "s3cret-pass",
            "from_email": "ops@example.com",
            "action": "save",
        },
    )
    assert saved.status_code == 302
    row = MailServer.objects.get()
    assert row.host == "127.0.0.1" and "s3cret-pass" not in row.password_sealed and not row.use_tls
    sent = install_owner.post(URL, {"action": "test"}, follow=True)
    assert "Test mail to root@example.com sent" in sent.content.decode()
    (mail_from, rcpt, content) = inbox.messages[-1]
    assert mail_from == "ops@example.com" and rcpt == ["root@example.com"] and b"can send mail" in content
    assert SentMail.objects.get().delivered is True
    assert 'id="no-smtp"' not in install_owner.get(URL).content.decode()
    assert "s3cret-pass" not in install_owner.get(URL).content.decode()


def test_an_unreachable_server_is_reported_not_a_500(install_owner, outbox_backend):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    install_owner.post(URL, {"host": "127.0.0.1", "port": str(closed), "action": "save"})
    answer = install_owner.post(URL, {"action": "test"}, follow=True)
    assert answer.status_code == 200 and "did not take the test mail" in answer.content.decode()


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"host": "bad host!", "port": "25"}, "host"),
        ({"host": "a.b", "port": "0"}, "port"),
        ({"host": "a.b", "from_email": "nope"}, "from_email"),
    ],
)
def test_bad_settings_are_shown_and_change_nothing(install_owner, outbox_backend, form, field):
    answer = install_owner.post(URL, {**form, "action": "save"})
    assert answer.status_code == 400 and "has-error" in answer.content.decode()
    assert not MailServer.objects.exists()


OUTBOX_URL = "/console/install/outbox"


def test_console_account_mails_are_in_the_install_outbox_for_its_owners_only(
    install_owner, browser_for, make_account, outbox_backend, django_capture_on_commit_callbacks
):
    someone = make_account("forgetful@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post("/console/password/forgot", {"email": someone.email})
    assert answer.status_code == 200
    assert "Install outbox" in answer.content.decode()  # the notice says where the mail went
    mail = SentMail.objects.get(to=someone.email)
    assert mail.project is None and mail.links and not mail.delivered

    page = install_owner.get(OUTBOX_URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert someone.email in html and mail.links[0] in html and 'id="no-smtp"' in html
    assert f'href="{OUTBOX_URL}"' in install_owner.get("/console/projects").content.decode()

    member = browser_for(someone)
    refused = member.get(OUTBOX_URL, follow=True)
    assert refused.redirect_chain == [("/console/projects", 302)]
    assert mail.links[0] not in refused.content.decode()
    assert OUTBOX_URL not in member.get("/console/projects").content.decode()
