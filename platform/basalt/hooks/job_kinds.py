"""Kinds of scheduled job, one small class each, in a registry: `webhook` (a signed call) and `purge`
here, `export` contributed by basalt.operations (register()).

A kind validates its settings when the job is saved and runs one run. A run that has more to do
than one slice returns CONTINUE and is queued again: purges work in bounded batches, never hold a
long lock, and resume where they stopped after a worker crash (the where is re-evaluated, so the
documents already deleted are simply not found again).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from datetime import timedelta
from typing import Any

from django.utils import timezone

from basalt.core.caller import Caller
from basalt.core.errors import InvalidQuery, NotFound, ValidationFailed
from basalt.core.json import dumps
from basalt.core.times import rfc3339_ms
from basalt.documents import finding, services
from basalt.hooks import sender, signing, ssrf
from basalt.hooks.models import Job, JobRun
from basalt.hooks.rules import parse_where
from basalt.projects.models import Project

DONE, CONTINUE = "done", "continue"
SLICE_SECONDS = 30.0
MAX_BATCH = 500


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details={f"config.{field}": [message]})


class JobKind(ABC):
    name = ""
    needs_secret = False
    fields: frozenset[str] = frozenset()

    @abstractmethod
    def clean(self, project: Project, config: dict[str, Any]) -> dict[str, Any]:
        """The settings as stored, or ValidationFailed naming `config.<field>`."""

    @abstractmethod
    def run(self, job: Job, run: JobRun) -> str:
        """One slice of a run: DONE, or CONTINUE to be queued again; raises to fail the run."""

    def check_fields(self, config: Any) -> dict[str, Any]:
        if not isinstance(config, dict):
            raise ValidationFailed(details={"config": ["Must be a JSON object."]})
        unknown = sorted(str(k)[:60] for k in config if k not in self.fields)
        if unknown:
            raise _bad(unknown[0], "Unknown setting.")
        return config


class WebhookJob(JobKind):
    """POST a signed `job.run` event to the developer's URL (a nightly trigger for their own server)."""

    name = "webhook"
    needs_secret = True
    fields = frozenset({"url"})

    def clean(self, project: Project, config: dict[str, Any]) -> dict[str, Any]:
        config = self.check_fields(config)
        try:
            ssrf.check_at_registration(config.get("url"))
        except ssrf.TargetRefused as exc:
            raise _bad("url", str(exc)) from None
        return {"url": config["url"]}

    def run(self, job: Job, run: JobRun) -> str:
        body = dumps(
            {
                "type": "job.run",
                "timestamp": rfc3339_ms(timezone.now()),
                "data": {
                    "project": job.project.ref,
                    "job": job.id,
                    "name": job.name,
                    "run": run.id,
                    "scheduled_for": run.scheduled_for.isoformat() if run.scheduled_for else None,
                },
            }
        )
        secret = signing.unseal(job.secret_sealed)
        with sender.client() as http:
            outcome = sender.post(
                http, job.config["url"], body, signing.headers(secret, f"run_{run.id}", int(time.time()), body)
            )
        run.counts = {"status_code": outcome.status_code, "latency_ms": outcome.latency_ms}
        if not outcome.ok:
            raise RuntimeError(outcome.error or "the receiver did not accept the call")
        return DONE


class PurgeJob(JobKind):
    """Delete a collection's documents matching `where` and/or older than `older_than_days`, in batches."""

    name = "purge"
    fields = frozenset({"collection", "where", "older_than_days", "batch"})

    def clean(self, project: Project, config: dict[str, Any]) -> dict[str, Any]:
        config = self.check_fields(config)
        collection = config.get("collection")
        if not isinstance(collection, str) or not collection:
            raise _bad("collection", "The collection to purge.")
        out: dict[str, Any] = {"collection": collection}
        days = config.get("older_than_days")
        if days is not None:
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36500:
                raise _bad("older_than_days", "A whole number of days from 1 to 36500.")
            out["older_than_days"] = days
        where = config.get("where")
        if where is not None:
            out["where"] = where
        if where is None and days is None:
            raise _bad("where", "Give `where`, `older_than_days` or both: a purge never deletes a whole collection.")
        batch = config.get("batch", 200)
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
            raise _bad("batch", f"A whole number from 1 to {MAX_BATCH}.")
        out["batch"] = batch
        try:
            schema, _, _ = parse_where(project, collection, self.where(out, timezone.now()))
        except NotFound:
            raise _bad("collection", f"No collection named {collection[:63]!r}.") from None
        except InvalidQuery as exc:
            raise _bad("where", exc.message) from None
        if schema.collection.builtin:
            raise _bad("collection", "Built-in collections are not purged by jobs.")
        return out

    @staticmethod
    def where(config: dict[str, Any], started) -> dict[str, Any]:
        parts = []
        if config.get("where") is not None:
            parts.append(config["where"])
        if config.get("older_than_days"):
            cutoff = started - timedelta(days=config["older_than_days"])
            parts.append({"created_at": {"$lt": rfc3339_ms(cutoff)}})
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def run(self, job: Job, run: JobRun) -> str:
        config = job.config
        caller = Caller(project=job.project, key_kind="secret", key_id=f"job:{job.id}")
        # The cutoff is fixed by the run's start: a resumed run deletes what the first slice would have.
        where = self.where(config, run.started_at)
        started = time.monotonic()
        counts = dict(run.counts or {})
        while time.monotonic() - started < SLICE_SECONDS:
            page = finding.find_documents(
                caller, config["collection"], {"where": where, "limit": config["batch"], "fields": ["id"]}
            )
            ids = [doc["id"] for doc in page["results"]]
            if not ids:
                run.counts = counts
                return DONE
            for doc_id in ids:
                try:
                    services.delete_document(caller, config["collection"], doc_id)  # one short transaction each
                    counts["deleted"] = counts.get("deleted", 0) + 1
                except NotFound:
                    pass  # gone meanwhile
            counts["batches"] = counts.get("batches", 0) + 1
            JobRun.objects.filter(id=run.id).update(counts=counts, heartbeat_at=timezone.now())
        run.counts = counts
        return CONTINUE


KINDS: dict[str, JobKind] = {kind.name: kind for kind in (WebhookJob(), PurgeJob())}
# Kinds not (yet) registered, listed so a request for one gets a clear answer rather than "unknown kind".
NOT_BUILT: dict[str, str] = {}


def register(kind: JobKind) -> None:
    """Other areas contribute kinds (operations: `export`)."""
    KINDS[kind.name] = kind
    NOT_BUILT.pop(kind.name, None)
