"""Pushes and their deliveries: one row per (push, installation), a small state machine."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from basalt.core.ids import random_id
from basalt.core.json import StoredJson
from basalt.projects.models import Project


def new_push_id() -> str:
    return random_id(20, prefix="p_")


class Push(models.Model):
    """One push request; its audience is turned into Delivery rows when it falls due."""

    SCHEDULED, SENDING, DONE, CANCELLED, FAILED = "scheduled", "sending", "done", "cancelled", "failed"
    STATUSES = [(s, s) for s in (SCHEDULED, SENDING, DONE, CANCELLED, FAILED)]

    id = models.CharField(primary_key=True, max_length=24, default=new_push_id)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=STATUSES, default=SCHEDULED)
    audience = models.JSONField(decoder=StoredJson, default=dict)
    # The validated request: notification, data, localized, badge, collapse_key, priority, expires_at.
    message = models.JSONField(decoder=StoredJson, default=dict)
    send_at = models.DateTimeField(null=True, blank=True)
    local_time = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # When the audience is expanded into deliveries (send_at, or its earliest local instant).
    fan_out_at = models.DateTimeField(default=timezone.now)
    fanned_out = models.BooleanField(default=False)
    # Keyset position of an interrupted fan-out (last installation id written).
    fan_out_after = models.CharField(max_length=40, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "basalt_push"
        indexes = [
            models.Index(fields=["project", "-created_at"], name="push_history"),
            models.Index(fields=["status", "fan_out_at"], name="push_due"),
        ]

    def __str__(self) -> str:
        return self.pk


# Delivery states the partial indexes hold (Meta cannot see the class's own names).
OPEN_STATES = ("pending", "claimed", "sending")
HELD_STATES = ("claimed", "sending")


class Delivery(models.Model):
    """One installation's copy of a push.

    pending → claimed (taken by a worker, not yet on the wire) → sending (request on the wire)
    → sent | failed | invalid. A crashed worker's `claimed` rows go back to pending; its
    `sending` rows become `in_flight_at_crash` (they may or may not have arrived: never resent).
    """

    PENDING, CLAIMED, SENDING = "pending", "claimed", "sending"
    SENT, FAILED, INVALID, IN_FLIGHT_AT_CRASH, CANCELLED = (
        "sent",
        "failed",
        "invalid",
        "in_flight_at_crash",
        "cancelled",
    )
    STATUSES = [(s, s) for s in (PENDING, CLAIMED, SENDING, SENT, FAILED, INVALID, IN_FLIGHT_AT_CRASH, CANCELLED)]

    # No index of its own: `one_delivery_per_installation` starts with the push.
    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    installation_id = models.CharField(max_length=40)
    provider = models.CharField(max_length=16)
    # A snapshot taken at fan-out, so sending needs no join and a later token change is a new install.
    token = models.TextField()
    locale = models.CharField(max_length=35, blank=True, default="")
    badge = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=24, choices=STATUSES, default=PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "basalt_push_delivery"
        constraints = [
            models.UniqueConstraint(fields=["push", "installation_id"], name="one_delivery_per_installation")
        ]
        # A delivery's status changes three times, and each change writes a new entry into every
        # index whose condition the row meets: the partial indexes below hold only the states
        # their queries look for (PostgreSQL CPU per delivery, push/0003).
        indexes = [
            # Open deliveries of a push: is it finished, when is the next one due, cancel.
            models.Index(
                fields=["push", "status", "due_at"], name="delivery_open", condition=Q(status__in=OPEN_STATES)
            ),
            # What a claim walks: one provider's pending deliveries of a push in id order.
            models.Index(fields=["push", "provider", "id"], name="delivery_pending", condition=Q(status="pending")),
            # What the tick looks for across pushes: pending ones falling due, leases run out.
            models.Index(fields=["due_at"], name="delivery_due", condition=Q(status="pending")),
            models.Index(fields=["claimed_at"], name="delivery_lease_held", condition=Q(status__in=HELD_STATES)),
        ]

    def __str__(self) -> str:
        return f"{self.push_id}:{self.installation_id}"
