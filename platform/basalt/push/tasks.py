"""Celery tasks of the push area (ids in, idempotent: state lives on the push and delivery rows)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from basalt.push import clock, engine


@shared_task(name="push.run", acks_late=True)
def run_push(push_id: str, helper: bool = False) -> str:
    """Fan a push out and send it; `helper` runs only send (claims keep them apart)."""
    push_id = str(push_id)
    if helper:
        return engine.run(push_id, helper=True)
    status = engine.run(push_id, on_first_chunk=lambda: _call_helpers(push_id))
    _again_later(push_id)
    return status


def _call_helpers(push_id: str) -> None:
    """Once the first deliveries exist, ask PUSH_SEND_TASKS - 1 more runs to send alongside this
    one (other worker processes or machines: one process is bound to one core by the GIL, and
    FCM takes one HTTP request per message). Eager runs (tests, embedded) have one worker."""
    from basalt.celery import app

    if app.conf.task_always_eager:
        return
    for _ in range(max(0, settings.PUSH_SEND_TASKS - 1)):
        run_push.apply_async(args=[push_id], kwargs={"helper": True})


def _again_later(push_id: str) -> None:
    """Re-queue for deliveries waiting on a backoff; eager runs (tests) leave that to `tick`."""
    from basalt.celery import app

    if app.conf.task_always_eager:
        return
    due = engine.next_due(push_id)
    if due is not None:
        delay = max(1.0, (due - clock.now()).total_seconds())
        if delay <= 60:
            run_push.apply_async(args=[push_id], countdown=delay)


@shared_task(name="push.tick", acks_late=True)
def tick() -> int:
    """Periodic: start pushes falling due, resume retries and crashed workers' leftovers."""
    engine.recover_abandoned()
    pushes = engine.open_pushes()
    from basalt.celery import app

    for push_id in pushes:
        if app.conf.task_always_eager:
            engine.run(push_id)
        else:
            run_push.delay(push_id)
    return len(pushes)
