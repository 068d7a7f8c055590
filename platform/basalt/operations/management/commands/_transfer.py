"""What the export/import/clone commands share: finding the project, and errors as the API's JSON."""

from __future__ import annotations

import json
import sys

from django.core.management.base import CommandError

from basalt.core.errors import BasaltError
from basalt.projects.models import Project


def project(ref: str) -> Project:
    found = Project.objects.filter(ref=ref).first()
    if found is None:
        raise CommandError(
            json.dumps({"error": {"code": "not_found", "message": f"No project with ref {ref[:40]!r}."}})
        )
    return found


def fail(exc: BasaltError) -> CommandError:
    """The same JSON error body the management API would answer, as the command's error message."""
    return CommandError(json.dumps(exc.payload()))


def progress(phase: str, done: int) -> None:
    sys.stderr.write(f"{phase}: {done}\n")
