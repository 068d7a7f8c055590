"""Deleting a project drops its collections' partial indexes once the deletion has committed.

The index rows go with the project by cascade, but the indexes themselves live on the shared
documents table, where every later insert would still evaluate their predicates."""

from __future__ import annotations

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from basalt.projects.models import Project


@receiver(pre_delete, sender=Project, dispatch_uid="documents.project_indexes")
def _drop_project_indexes(sender, instance: Project, **kwargs) -> None:
    from basalt.documents.indexes import drop_indexes_now
    from basalt.documents.models import CollectionIndex

    names = list(CollectionIndex.objects.filter(collection__project=instance).values_list("db_name", flat=True))
    drop_indexes_now(names)
