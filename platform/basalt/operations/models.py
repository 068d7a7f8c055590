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
