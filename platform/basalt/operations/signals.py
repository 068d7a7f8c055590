"""Deleting a project removes its export archives from storage once the deletion has committed."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from basalt.projects.models import Project


@receiver(pre_delete, sender=Project, dispatch_uid="operations.project_archives")
def _remove_project_archives(sender, instance: Project, **kwargs) -> None:
    from basalt.files.storage import get_storage

    prefix = f"exports/p{instance.pk}/"
    transaction.on_commit(lambda: get_storage().delete_prefix(prefix))
