"""The outbox: an email backend for the embedded default that records every mail in the database
(and still writes it to the mail folder), so the console can show invitations, verification and
reset mails with their links when no mail server is configured.

Senders tag a mail with `X-Basalt-Project` (the project ref) and `X-Basalt-Kind`; untagged mails
(console account mails) are recorded without a project.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.filebased import EmailBackend as FileBackend

logger = logging.getLogger("basalt.logs")

PROJECT_HEADER = "X-Basalt-Project"
KIND_HEADER = "X-Basalt-Kind"
LINK = re.compile(r"https?://[^\s<>\"')]+")
MAX_BODY = 20_000


def tags(project_ref: str, kind: str) -> dict[str, str]:
    """Headers a sender adds so the outbox files the mail under its project."""
    return {PROJECT_HEADER: project_ref, KIND_HEADER: kind}


def send_tagged(subject: str, body: str, from_email: str | None, to: list[str], project_ref: str, kind: str) -> int:
    return EmailMessage(subject, body, from_email, to, headers=tags(project_ref, kind)).send()


def record(messages, delivered: bool) -> None:
    from basalt.logs.models import SentMail
    from basalt.projects.models import Project

    for message in messages:
        headers = getattr(message, "extra_headers", {}) or {}
        ref = str(headers.get(PROJECT_HEADER, ""))[:32]
        project = Project.objects.filter(ref=ref).first() if ref else None
        body = str(message.body or "")
        SentMail.objects.create(
            project=project,
            kind=str(headers.get(KIND_HEADER, ""))[:24],
            to=", ".join(message.to)[:500],
            subject=str(message.subject or "")[:200],
            body=body[:MAX_BODY],
            links=LINK.findall(body)[:20],
            delivered=delivered,
        )


class OutboxBackend(FileBackend):
    """Django's file backend plus a row per mail for the console's Outbox page; when an install
    owner configured an SMTP server in the console, mails go there instead (and are recorded)."""

    def send_messages(self, email_messages):
        from basalt.logs import mailserver

        server = mailserver.current()
        if server is not None:
            from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

            if server.from_email:
                for message in email_messages or []:
                    if message.from_email in (None, "", settings.DEFAULT_FROM_EMAIL):
                        message.from_email = server.from_email
            smtp = SmtpBackend(
                host=server.host,
                port=server.port,
                username=server.username or None,
                password=mailserver.password(server) or None,
                use_tls=server.use_tls,
                timeout=15,
                fail_silently=self.fail_silently,
            )
            sent = smtp.send_messages(email_messages)
            try:
                record(email_messages or [], delivered=True)
            except Exception:
                logger.exception("could not record a mail in the outbox")
            return sent
        sent = super().send_messages(email_messages)
        try:
            record(email_messages or [], delivered=False)
        except Exception:  # the mail is in the folder; a failed outbox row must not fail the sender
            logger.exception("could not record a mail in the outbox")
        return sent
