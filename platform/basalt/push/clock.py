"""The push area's one clock, so scheduling tests can move time (monkeypatch `now`)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
