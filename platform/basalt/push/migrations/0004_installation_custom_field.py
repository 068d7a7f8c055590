"""Installations keep app-defined fields in the built-in object field `custom` (push/custom.py).

Declares it on every existing `installations` collection (new ones get it at creation) and bumps
each such project's schema version so cached schemas are rebuilt. Backwards: nothing to undo that
matters (the field would stay declared, harmless to older code that never writes it)."""

from django.db import migrations
from django.db.models import F


def declare_custom(apps, schema_editor):
    Collection = apps.get_model("documents", "Collection")
    Project = apps.get_model("projects", "Project")
    for collection in Collection.objects.filter(name="installations", builtin=True).iterator():
        fields = dict(collection.fields or {})
        if "custom" in fields:
            continue
        fields["custom"] = {"type": "object", "builtin": True}
        collection.fields = fields
        collection.save(update_fields=["fields"])
        Project.objects.filter(pk=collection.project_id).update(schema_version=F("schema_version") + 1)


class Migration(migrations.Migration):
    dependencies = [
        ("push", "0003_delivery_partial_indexes"),
        ("documents", "0008_log_change_in_place"),
        ("projects", "0002_invitation"),
    ]

    operations = [migrations.RunPython(declare_custom, migrations.RunPython.noop)]
