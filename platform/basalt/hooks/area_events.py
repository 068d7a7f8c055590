"""Webhook events of other areas that do not go through the change log: `files.create` (a file was
stored) and `push.finished` (a push reached its end). Each area announces after commit
(basalt.files.events, basalt.push.events); here the announcement becomes deliveries to the
endpoints that asked for the event, in one short transaction."""

from __future__ import annotations

import logging

from django.db import transaction

from basalt.hooks import dispatch, events

logger = logging.getLogger("basalt.hooks.area_events")
FILES_CREATE = "files.create"
PUSH_FINISHED = "push.finished"


def file_created(file_id: str) -> None:
    from basalt.files.models import File
    from basalt.files.services import render

    row = File.objects.filter(pk=file_id).first()
    if row is None:
        return  # deleted meanwhile
    data = {k: v for k, v in render(row).items() if k != "url"}  # a content URL needs the caller's key anyway
    data["created_by"] = row.created_by
    _emit(row.project_id, FILES_CREATE, {"file": data})


def push_finished(push_id: str) -> None:
    from basalt.push.models import Push
    from basalt.push.services import render

    push = Push.objects.filter(pk=push_id).first()
    if push is None:
        return
    _emit(push.project_id, PUSH_FINISHED, {"push": render(push)})


def _emit(project_id: int, event: str, data: dict) -> None:
    try:
        with transaction.atomic():
            dispatch.emit(project_id, event, data)
    except Exception:  # the file or push already happened; a lost event is logged, never raised into it
        logger.exception("could not record the %s webhook event of project %s", event, project_id)


def connect() -> None:
    from basalt.files import events as file_events
    from basalt.push import events as push_events

    events.register(FILES_CREATE, "a file was uploaded and stored")
    events.register(PUSH_FINISHED, "a push finished sending (its counts are in the event)")
    file_events.on_created(file_created)
    push_events.on_finished(push_finished)
