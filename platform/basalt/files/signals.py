"""Deleting a project removes its stored bytes once the deletion has committed."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from basalt.projects.models import Project


@receiver(pre_delete, sender=Project, dispatch_uid="files.project_bytes")
def _remove_project_bytes(sender, instance: Project, **kwargs) -> None:
    from basalt.files.services import remove_objects

    prefix = f"p{instance.pk}/"
    transaction.on_commit(lambda: remove_objects(prefix))
