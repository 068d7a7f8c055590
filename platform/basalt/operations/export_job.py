"""The `export` scheduled-job kind (hooks' job-kind registry, contributed from here): a project
archive written to file storage on a schedule, the last `keep` of the job kept.

One run makes one export transfer (listed under GET …/exports with its `job`, downloadable
like any export). A run whose worker died is queued again by the scheduler after its heartbeat
stops; the export it left running is marked failed and a fresh one is written (an archive is
one stream, so it restarts rather than resumes; nothing partial is ever listed as done).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from basalt.core.errors import ValidationFailed
from basalt.files.storage import get_storage
from basalt.hooks.job_kinds import DONE, JobKind
from basalt.hooks.models import Job, JobRun
from basalt.operations import transfers
from basalt.operations.models import Transfer
from basalt.projects.models import Project

HEARTBEAT_SECONDS = 20.0


class ExportJob(JobKind):
    name = "export"
    fields = frozenset({"keep"})

    def clean(self, project: Project, config: dict[str, Any]) -> dict[str, Any]:
        config = self.check_fields(config)
        keep = config.get("keep", 7)
        ceiling = settings.EXPORT_KEEP_MAX
        if isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep <= ceiling:
            raise ValidationFailed(
                details={"config.keep": [f"How many archives to keep: a whole number from 1 to {ceiling}."]}
            )
        return {"keep": keep}

    def run(self, job: Job, run: JobRun) -> str:
        lost = Transfer.objects.filter(job_id=job.id, status__in=(Transfer.QUEUED, Transfer.RUNNING))
        lost.update(
            status=Transfer.FAILED, finished_at=timezone.now(),
            error={"code": "interrupted", "message": "The worker running this export stopped; a new one was written."},
        )  # fmt: skip
        transfer = Transfer.objects.create(
            project=job.project, kind=Transfer.EXPORT, job_id=job.id, status=Transfer.QUEUED
        )
        beat = {"at": time.monotonic()}

        def heartbeat(phase: str, done: int) -> None:
            # The scheduler resumes runs whose heartbeat stopped: a long export keeps it fresh.
            if time.monotonic() - beat["at"] > HEARTBEAT_SECONDS:
                beat["at"] = time.monotonic()
                JobRun.objects.filter(id=run.id).update(heartbeat_at=timezone.now())

        transfers.run(transfer.id, also=heartbeat)
        transfer.refresh_from_db()
        if transfer.status != Transfer.SUCCEEDED:
            raise RuntimeError((transfer.error or {}).get("message", "the export failed"))
        removed = self.prune(job)
        run.counts = {
            "transfer": transfer.id,
            "size": transfer.archive_size,
            "documents": (transfer.progress.get("counts") or {}).get("documents", 0),
            "removed": removed,
        }
        return DONE

    @staticmethod
    def prune(job: Job) -> int:
        """Keep the job's newest `keep` archives; delete older ones (bytes first, then the row)."""
        keep = int(job.config.get("keep", 7))
        done = Transfer.objects.filter(job_id=job.id, kind=Transfer.EXPORT).order_by("-created_at", "-id")
        old = list(done[keep:])
        storage = get_storage()
        for transfer in old:
            if transfer.archive_key:
                storage.delete_prefix(transfer.archive_key)
            transfer.delete()
        return len(old)
