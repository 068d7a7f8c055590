"""Rows the console reads back: data-API request lines (bounded, trimmed) and sent mails."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from basalt.core.json import StoredJson
from basalt.projects.models import Project


class RequestLog(models.Model):
    """One data-API request: never a body, a key, a token or a query string."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    route = models.CharField(max_length=16)  # the metrics group: documents, auth, files, …
    status = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=40, blank=True)
    latency_ms = models.FloatField()
    caller_kind = models.CharField(max_length=12)  # publishable | secret | user
    user_id = models.CharField(max_length=32, blank=True)
    request_id = models.CharField(max_length=128)

    class Meta:
        db_table = "basalt_request_log"
        indexes = [
            models.Index(fields=["project", "-id"], name="reqlog_project_recent"),
            models.Index(fields=["project", "request_id"], name="reqlog_project_rid"),
            models.Index(fields=["at"], name="reqlog_age"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class SentMail(models.Model):
    """A mail Basalt sent (or, with no mail server, only recorded), with the links it carried."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=24, blank=True)
    to = models.CharField(max_length=500)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    links = models.JSONField(decoder=StoredJson, default=list)
    delivered = models.BooleanField(default=False)  # False: no mail server, the outbox is all there is
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_sent_mail"
        indexes = [
            models.Index(fields=["project", "-id"], name="sentmail_project_recent"),
            models.Index(fields=["sent_at"], name="sentmail_age"),
        ]

    def __str__(self) -> str:
        return self.subject


class MailServer(models.Model):
    """The install's SMTP server, set in the console by an install owner (superuser). One row.

    Used by the embedded default's backend when EMAIL_HOST is not set in the environment; the
    password is sealed with a key derived from SECRET_KEY (basalt.core.sealing), never shown again.
    """

    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(default=587)
    username = models.CharField(max_length=255, blank=True)
    password_sealed = models.TextField(blank=True)
    use_tls = models.BooleanField(default=True)  # STARTTLS
    from_email = models.CharField(max_length=254, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_mail_server"

    def __str__(self) -> str:
        return self.host or "(none)"
