"""File rows (per project, with an ACL like documents) and resumable upload sessions."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from basalt.core.ids import random_id
from basalt.core.json import StoredJson
from basalt.projects.models import Project


def new_file_id() -> str:
    return random_id(20)


class File(models.Model):
    """A stored file. Only `ready` files are visible; `pending` ones await a direct upload's complete."""

    READY, PENDING = "ready", "pending"

    id = models.CharField(primary_key=True, max_length=32, default=new_file_id)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    storage_key = models.CharField(max_length=255)
    status = models.CharField(max_length=8, default=READY)
    acl = models.JSONField(decoder=StoredJson, default=dict)
    read_principals = models.JSONField(decoder=StoredJson, default=list)
    write_principals = models.JSONField(decoder=StoredJson, default=list)
    created_by = models.CharField(max_length=32, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Direct uploads: the size and type promised at /uploads, checked at complete.
    expected_size = models.PositiveBigIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "basalt_file"
        indexes = [
            models.Index(fields=["project", "status", "created_at", "id"], name="file_project_created"),
            models.Index(fields=["status", "expires_at"], name="file_pending_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.name}"


class Thumbnail(models.Model):
    """A generated thumbnail, kept so each (file, size, fit) is rendered once."""

    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="thumbnails")
    spec = models.CharField(max_length=32)  # "WxH-cover"
    storage_key = models.CharField(max_length=255)
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_file_thumbnail"
        constraints = [models.UniqueConstraint(fields=["file", "spec"], name="thumbnail_once")]

    def __str__(self) -> str:
        return f"{self.file_id} {self.spec}"


class TusUpload(models.Model):
    """A tus 1.0 upload in progress: bytes so far live in storage parts until the last one arrives."""

    id = models.CharField(primary_key=True, max_length=32, default=new_file_id)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    length = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    metadata = models.JSONField(decoder=StoredJson, default=dict)
    # Hash state is not serialisable, so the running sha256 is recomputed at finish from the parts.
    parts = models.PositiveIntegerField(default=0)
    created_by = models.CharField(max_length=32, null=True, blank=True)
    key_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    file_id = models.CharField(max_length=32, blank=True)

    class Meta:
        db_table = "basalt_file_tus_upload"
        indexes = [models.Index(fields=["expires_at"], name="tus_expiry")]

    def __str__(self) -> str:
        return f"tus {self.id} {self.offset}/{self.length}"
