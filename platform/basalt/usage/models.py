"""Per-project daily usage: request and push counts flushed from the cache, size snapshots."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from basalt.projects.models import Project


class UsageDay(models.Model):
    """One project's usage on one UTC day; counters only grow, snapshots are overwritten."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    requests = models.PositiveBigIntegerField(default=0)
    pushes = models.PositiveBigIntegerField(default=0)
    # Snapshots taken by the periodic task; null means no snapshot was taken that day.
    documents = models.PositiveBigIntegerField(null=True, blank=True)
    storage_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_usage_day"
        constraints = [models.UniqueConstraint(fields=["project", "day"], name="usage_day_per_project")]

    def __str__(self) -> str:
        return f"{self.project_id} {self.day}"


class CollectionSize(models.Model):
    """A collection's documents and JSON bytes as last measured by the periodic snapshot.

    Counting the bytes of every document costs a pass over the whole collection, so the usage
    report of a large project reads these figures (with their time) instead of measuring on each view.
    """

    # Not a foreign key: a collection is deleted with set-based SQL that knows nothing of usage;
    # a deleted collection's row is pruned by the next measurement of its project.
    collection_id = models.BigIntegerField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    documents = models.PositiveBigIntegerField(default=0)
    storage_bytes = models.PositiveBigIntegerField(default=0)
    measured_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_usage_collection_size"

    def __str__(self) -> str:
        return f"{self.collection_id}: {self.documents}"
