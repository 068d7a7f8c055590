"""Housekeeping and key-material durability."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from basalt.identity import keys
from basalt.identity.models import OneTimeToken, Session, SpentRefreshToken
from basalt.identity.tasks import purge_expired

from .conftest import key_client


def test_purge_drops_dead_codes_and_old_sessions_only(project, signup):
    live, old = signup(), signup()
    key_client(project.publishable).post("/api/v1/auth/refresh", {"refresh_token": old.refresh}, format="json")
    Session.objects.filter(pk=old.body["session_id"]).update(revoked_at=timezone.now() - timedelta(days=8))
    OneTimeToken.objects.create(
        token_hash="a" * 64,
        project=project.project,
        user_id=live.id,
        purpose="reset",
        email=live.email,
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert purge_expired() == {"codes": 1, "sessions": 1}
    assert Session.objects.filter(pk=live.body["session_id"]).exists()
    assert not SpentRefreshToken.objects.exists()
    assert live.client.get("/api/v1/auth/me").status_code == 200


def test_signing_keys_survive_a_secret_key_rotation_with_fallbacks(project, user, settings):
    """SECRET_KEY rotated with the old one in SECRET_KEY_FALLBACKS: keys still decrypt, tokens still sign."""
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key-0123456789abcdefghijkl"
    settings.SECRET_KEY_FALLBACKS = [old]
    keys._signing_cache.clear()
    refreshed = key_client(project.publishable).post(
        "/api/v1/auth/refresh", {"refresh_token": user.refresh}, format="json"
    )
    assert refreshed.status_code == 200


def test_batch_cannot_reach_auth_routes(project, user):
    """T9: a login hidden in a batch is refused, so it can neither bypass nor dodge the throttle."""
    response = key_client(project.publishable).post(
        "/api/v1/batch",
        {
            "requests": [
                {"method": "POST", "path": "/api/v1/auth/login", "body": {"email": user.email, "password": "guess"}}
            ]
        },
        format="json",
    )
    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert response.json()["results"][0]["status"] == 404


@pytest.mark.django_db
def test_purge_is_scheduled_hourly_and_the_scheduled_name_is_a_registered_task(settings):
    """Beat only sends a name: a typo or an undiscovered module would mean the purge never runs."""
    from basalt.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["identity-purge-expired"]
    assert entry == {"task": "identity.purge_expired", "schedule": 3600.0}
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert app.tasks[entry["task"]].apply().get() == {"codes": 0, "sessions": 0}
