"""Webhook endpoints, their deliveries (the outbox workers send), attempts, and the change-log cursor."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from basalt.core.ids import random_id
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
    events = models.JSONField(default=list)
    # Empty: every collection. `where` needs exactly one collection (its fields are that schema's).
    collections = models.JSONField(default=list)
    where = models.JSONField(null=True, blank=True)
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
    payload = models.JSONField()
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
