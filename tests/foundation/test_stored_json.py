"""Every JSON column reads back what a request body parses to, whatever the database prints."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models

from basalt.core.json import StoredJson, dumps


def test_every_json_field_reads_with_the_request_bodies_decoder():
    plain = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        if model.__module__.startswith("basalt.")
        for field in model._meta.get_fields()
        if isinstance(field, models.JSONField) and field.decoder is not StoredJson
    ]
    assert plain == []


@pytest.mark.django_db
def test_a_number_printed_as_a_wide_integer_reads_back_as_a_float_the_renderer_takes():
    from basalt.projects.models import Project

    project = Project.objects.create(name="wide", ref="wideints00000000000a")
    # What PostgreSQL's jsonb stores for 1e20 and -1e30; SQLite keeps what it was sent, so write the text itself.
    from django.db import connection

    with connection.cursor() as cursor:
        text = '{"n": 100000000000000000000, "m": -1000000000000000000000000000000, "k": 18446744073709551615}'
        cast = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
        cursor.execute(f"UPDATE basalt_project SET settings = {cast} WHERE id = %s", [text, project.pk])
    settings = Project.objects.get(pk=project.pk).settings
    assert settings == {"n": 1e20, "m": -1e30, "k": 18446744073709551615}
    assert dumps(settings)
