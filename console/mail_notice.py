"""Say where an email "sent" from the console really went when no mail server is configured.

The embedded default writes every message to a file in the data folder (Django's file backend);
saying "sent" there would send people waiting for mail that never leaves the machine.
"""

from __future__ import annotations

from django.conf import settings

FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
OUTBOX_BACKEND = "basalt.logs.mail.OutboxBackend"


def mail_folder() -> str:
    """The folder messages are written to instead of being sent, or "" when they are sent."""
    if settings.EMAIL_BACKEND == OUTBOX_BACKEND:
        from basalt.logs import mailserver

        return "" if mailserver.current() is not None else str(settings.EMAIL_FILE_PATH)
    return str(settings.EMAIL_FILE_PATH) if settings.EMAIL_BACKEND == FILE_BACKEND else ""


def delivery_note() -> str:
    folder = mail_folder()
    if not folder:
        return ""
    if settings.EMAIL_BACKEND == OUTBOX_BACKEND:
        return (
            " No mail server configured: see Outbox. It was not sent; the project's Outbox page shows it "
            f"with its links (it was also written to a file in {folder} on the server)."
        )
    return (
        f" No mail server is configured (EMAIL_HOST is unset), so it was not sent: it was written to a file in "
        f"{folder} on the server."
    )
