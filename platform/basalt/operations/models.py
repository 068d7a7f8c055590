"""Operations rows: idempotency records of data-API writes."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from basalt.projects.models import Project


class IdempotencyRecord(models.Model):
    """The first answer to a write sent with an `Idempotency-Key`, replayed to repeats for 24 hours."""

    RUNNING, DONE = "running", "done"

    # sha256 of (API key, Authorization, Idempotency-Key): a key is scoped to the credentials that sent it.
    scope = models.CharField(max_length=64, unique=True)
    # sha256 of (method, path, query, body): a repeat with another request is refused.
    fingerprint = models.CharField(max_length=64)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=8, default=RUNNING)
    # While RUNNING: the first request's claim; a claim past this was lost with its process.
    lease_until = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_idempotency_record"
        indexes = [models.Index(fields=["created_at"], name="idempotency_age")]

    def __str__(self) -> str:
        return self.scope[:12]


class AuditEntry(models.Model):
    """One management or console action on a project: who, what, on what, from where, when. Append-only."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    via = models.CharField(max_length=8)  # api | console
    action = models.CharField(max_length=80)
    target = models.CharField(max_length=300, blank=True)
    status = models.PositiveSmallIntegerField()
    # The request's fields (secrets replaced by "[redacted]") and what the answer named (ids).
    summary = models.JSONField(default=dict)
    address = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_audit_entry"
        indexes = [
            models.Index(fields=["project", "-id"], name="audit_project_recent"),
            models.Index(fields=["at"], name="audit_age"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("audit entries are append-only")
        super().save(*args, **kwargs)
