"""Operations rows: idempotency records of data-API writes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from basalt.core.ids import random_id
from basalt.core.json import StoredJson
from basalt.projects.models import Project


class IdempotencyRecord(models.Model):
    """The first answer to a write sent with an `Idempotency-Key`, replayed to repeats for 24 hours."""

    RUNNING, DONE = "running", "done"

    # sha256 of (API key, Authorization, method, path, Idempotency-Key): a key is scoped to the credentials
    # that sent it and to the operation. Unique through Meta.constraints: unique=True would add a second,
    # LIKE-pattern index on PostgreSQL that no query uses and every keyed write would update.
    scope = models.CharField(max_length=64)
    # sha256 of (method, path, query, body): a repeat with another request is refused.
    fingerprint = models.CharField(max_length=64)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=8, default=RUNNING)
    # While RUNNING: the first request's claim; a claim past this was lost with its process.
    lease_until = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(decoder=StoredJson, default=dict)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_idempotency_record"
        indexes = [models.Index(fields=["created_at"], name="idempotency_age")]
        constraints = [models.UniqueConstraint(fields=["scope"], name="idempotency_scope")]

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
    summary = models.JSONField(decoder=StoredJson, default=dict)
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


def new_transfer_id() -> str:
    return random_id(16, "tr_")


class Transfer(models.Model):
    """One export, import or clone of a project, run by a worker; its archive lives in file storage.

    Progress of a running transfer is published through the cache (an import runs in one
    transaction, so its own row cannot show progress until it ends); the row keeps the outcome."""

    EXPORT, IMPORT, CLONE = "export", "import", "clone"
    QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"

    id = models.CharField(primary_key=True, max_length=32, default=new_transfer_id)
    # The project exported, imported into, or (clone) the new copy.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8)
    # basalt | parse (imports); the source project's ref for a clone.
    format = models.CharField(max_length=8, default="basalt")
    source_ref = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=10, default=QUEUED)
    progress = models.JSONField(decoder=StoredJson, default=dict)
    # The archive written (export) or uploaded (import), a key of the file storage.
    archive_key = models.CharField(max_length=255, blank=True)
    archive_size = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.JSONField(decoder=StoredJson, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # An export made by a scheduled `export` job (kept: the last N of that job).
    job_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Runs after a lost worker (transfer_recovery), and when its task was last sent.
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_transfer"
        indexes = [models.Index(fields=["project", "kind", "-created_at"], name="transfer_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} {self.status}"
