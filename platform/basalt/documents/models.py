"""The one-table document store: collections as metadata, documents as JSON rows, a change log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from basalt.core.ids import random_id
from basalt.core.json import StoredJson
from basalt.projects.models import Project


def new_document_id() -> str:
    return random_id(20)


class Collection(models.Model):
    """A user-defined (or built-in) collection: schema, indexes and rules, never a table of its own."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=63)
    fields = models.JSONField(decoder=StoredJson, default=dict)
    indexes = models.JSONField(decoder=StoredJson, default=list)
    # Absent operation → secret key only: a collection is locked until opened.
    permissions = models.JSONField(decoder=StoredJson, default=dict)
    protected_fields = models.JSONField(decoder=StoredJson, default=dict)
    default_acl = models.CharField(max_length=32, default="owner")
    builtin = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_collection"
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="collection_name_per_project")]

    def __str__(self) -> str:
        return self.name


class CollectionIndex(models.Model):
    """A declared index and the state of its build (PostgreSQL builds run CONCURRENTLY in a job)."""

    PENDING, BUILDING, READY, FAILED, DROPPING = "pending", "building", "ready", "failed", "dropping"
    STATUSES = [(s, s) for s in (PENDING, BUILDING, READY, FAILED, DROPPING)]

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="index_rows")
    db_name = models.CharField(max_length=63, unique=True)
    fields = models.JSONField(decoder=StoredJson)
    unique = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_collection_index"

    def __str__(self) -> str:
        return self.db_name


class FieldPurge(models.Model):
    """A removed field whose old values are being erased in batches (documents, edges, change log).

    While the row exists the name cannot be declared again, so old values never come back under
    it (with another type, or without the protection they had). The job deletes the row when done."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="field_purges")
    name = models.CharField(max_length=63)
    relation = models.BooleanField(default=False)
    # Keyset position of the document walk: [created_at as stored, id]; null before the first batch.
    doc_after = models.JSONField(decoder=StoredJson, null=True, blank=True)
    docs_done = models.BooleanField(default=False)
    # Change-log walk: rows with seq in (log_after, log_until] of this collection are cleaned.
    log_after = models.PositiveBigIntegerField(default=0)
    log_until = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_field_purge"
        constraints = [models.UniqueConstraint(fields=["collection", "name"], name="field_purge_once")]

    def __str__(self) -> str:
        return f"purge {self.name}"


class Document(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_document_id)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+", db_index=False)
    data = models.JSONField(decoder=StoredJson, default=dict)
    # The ACL as written by clients, and its read/write principal lists in a form SQL can filter
    # with an index (jsonb `?|` + GIN on PostgreSQL, json_each on SQLite).
    acl = models.JSONField(decoder=StoredJson, default=dict)
    read_principals = models.JSONField(decoder=StoredJson, default=list)
    write_principals = models.JSONField(decoder=StoredJson, default=list)
    created_by = models.CharField(max_length=32, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveBigIntegerField(default=1)

    class Meta:
        db_table = "basalt_document"
        indexes = [
            models.Index(fields=["collection", "created_at", "id"], name="doc_coll_created"),
            models.Index(fields=["collection", "updated_at", "id"], name="doc_coll_updated"),
            models.Index(fields=["project", "collection"], name="doc_project_coll"),
        ]

    def __str__(self) -> str:
        return self.id


class Relation(models.Model):
    """One edge of a `relation` field: (collection, field, from document) → to document."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+", db_index=False)
    field = models.CharField(max_length=63)
    from_id = models.CharField(max_length=32)
    to_id = models.CharField(max_length=32)

    class Meta:
        db_table = "basalt_relation"
        constraints = [
            models.UniqueConstraint(fields=["collection", "field", "from_id", "to_id"], name="relation_edge_once")
        ]
        indexes = [models.Index(fields=["collection", "field", "to_id"], name="relation_reverse")]

    def __str__(self) -> str:
        return f"{self.field}: {self.from_id} → {self.to_id}"


class ChangeSequence(models.Model):
    """A project's last change-log `seq`: the counter the sequencer moves (one narrow row per project).

    It was a column of `basalt_project`, whose row every request's key lookup reads and every
    write's foreign-key checks lock: while another session holds a snapshot (`pg_dump`, any long
    transaction) each numbered write left a dead version there that could not be pruned, and the
    key lookup of every request of the project slowed with them (bench/README.md, "The counter
    leaves the project row").
    A project gets its row at its first write."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="change_sequence")
    change_seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "basalt_change_seq"

    def __str__(self) -> str:
        return f"project {self.project_id}: seq {self.change_seq}"


class ChangeLogEntry(models.Model):
    """One row per committed write, numbered per project in commit order (the outbox).

    On PostgreSQL `seq` is NULL until the sequencer has numbered it, as the last statement of its
    write transaction or after its commit (`changefeed`); readers of the log only ever use numbered rows."""

    CREATE, UPDATE, DELETE = "create", "update", "delete"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    seq = models.PositiveBigIntegerField(null=True)
    collection = models.CharField(max_length=63)
    document_id = models.CharField(max_length=32)
    type = models.CharField(max_length=8)
    before = models.JSONField(decoder=StoredJson, null=True, blank=True)
    after = models.JSONField(decoder=StoredJson, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_change_log"
        constraints = [models.UniqueConstraint(fields=["project", "seq"], name="change_seq_per_project")]
        indexes = [
            models.Index(fields=["created_at"], name="change_log_age"),
            # The sequencer's work list: committed rows still without a seq (few, briefly).
            models.Index(fields=["project", "id"], name="change_log_unnumbered", condition=models.Q(seq__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.type} {self.collection}/{self.document_id}"


class SavedView(models.Model):
    """A named filter, sort and page size of one collection in the console's data browser, shared by
    the project's members (what a team comes back to: "unpaid orders", "signed up this week")."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=60)
    # The data page's own query string, reduced to the keys that page reads (saved_views.clean_query).
    query = models.CharField(max_length=2000)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_saved_view"
        constraints = [models.UniqueConstraint(fields=["collection", "name"], name="saved_view_name_per_collection")]

    def __str__(self) -> str:
        return self.name
