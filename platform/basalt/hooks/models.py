"""Webhook endpoints, their deliveries (the outbox workers send), attempts, and the change-log cursor."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from basalt.core.ids import random_id
from basalt.core.json import StoredJson
from basalt.projects.models import Project


def new_endpoint_id() -> str:
    return random_id(16, "ep_")


def new_message_id() -> str:
    # The `webhook-id` receivers de-duplicate on: stable across every attempt of one delivery.
    return random_id(24, "msg_")


class Endpoint(models.Model):
    """A receiver URL of a project and the events it wants; its signing secret is encrypted at rest."""

    id = models.CharField(primary_key=True, max_length=32, default=new_endpoint_id)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=2048)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(decoder=StoredJson, default=list)
    # Empty: every collection. `where` needs exactly one collection (its fields are that schema's).
    collections = models.JSONField(decoder=StoredJson, default=list)
    where = models.JSONField(decoder=StoredJson, null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    secret_sealed = models.TextField()
    # The project's change-log position when the endpoint was made: older rows are never sent to it.
    start_seq = models.PositiveBigIntegerField(default=0)
    # When the current run of failures began (None while the endpoint succeeds).
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_webhook_endpoint"
        indexes = [models.Index(fields=["project", "enabled"], name="webhook_ep_project")]

    def __str__(self) -> str:
        return self.url


class Delivery(models.Model):
    """One message for one endpoint: sent at least once, retried with backoff until it succeeds or expires."""

    PENDING, SENDING, SUCCEEDED, FAILED = "pending", "sending", "succeeded", "failed"
    STATUSES = [(s, s) for s in (PENDING, SENDING, SUCCEEDED, FAILED)]

    id = models.CharField(primary_key=True, max_length=40, default=new_message_id)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = models.CharField(max_length=64)
    # The change-log row this message was made from (None for pings and events outside the log).
    seq = models.PositiveBigIntegerField(null=True, blank=True)
    payload = models.JSONField(decoder=StoredJson)
    status = models.CharField(max_length=12, choices=STATUSES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A claim by one sender; a claim older than this was lost with its worker and is taken again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When the first attempt of the current series began: the 24 h retry window runs from here.
    window_start = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "basalt_webhook_delivery"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "seq"], condition=models.Q(seq__isnull=False), name="webhook_delivery_once"
            )
        ]
        indexes = [
            models.Index(fields=["endpoint", "status", "next_attempt_at"], name="webhook_due"),
            models.Index(fields=["endpoint", "created_at"], name="webhook_log"),
        ]

    def __str__(self) -> str:
        return self.id


class Attempt(models.Model):
    """One POST of a delivery: what the receiver answered (truncated) and how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_webhook_attempt"
        indexes = [models.Index(fields=["delivery", "number"], name="webhook_attempt_no")]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"


class Cursor(models.Model):
    """How far the webhook dispatcher has read a project's change log (every row ≤ seq is turned into deliveries)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "basalt_webhook_cursor"

    def __str__(self) -> str:
        return f"{self.project_id}@{self.seq}"


def new_job_id() -> str:
    return random_id(16, "job_")


class Job(models.Model):
    """A scheduled job of a project: a cron expression in a timezone and a kind with its settings."""

    id = models.CharField(primary_key=True, max_length=32, default=new_job_id)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16)
    cron = models.CharField(max_length=120)
    time_zone = models.CharField(max_length=64, default="UTC")
    # Kind settings; a `webhook` job's signing secret is sealed in `secret_sealed`, never here.
    config = models.JSONField(decoder=StoredJson, default=dict)
    secret_sealed = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_job"
        indexes = [models.Index(fields=["enabled", "next_run_at"], name="job_due")]

    def __str__(self) -> str:
        return self.name


class JobRun(models.Model):
    """One run of a job: status, timing, counts and, while running, where it has got to (for resuming)."""

    RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=12, default="schedule")  # schedule | manual
    status = models.CharField(max_length=12, default=RUNNING)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    # Written after every batch: a running run whose heartbeat stopped lost its worker and is resumed.
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(decoder=StoredJson, default=dict)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        db_table = "basalt_job_run"
        indexes = [models.Index(fields=["job", "status"], name="job_run_state")]

    def __str__(self) -> str:
        return f"{self.job_id} {self.started_at:%Y-%m-%d %H:%M} {self.status}"
