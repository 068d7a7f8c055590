"""Drop the partial indexes of projects deleted before deleting a project dropped them
(documents/signals.py): an index on basalt_document named like a collection index (`bx_…`) that
no collection index row names any more. Each is dropped with its planner statistics."""

from django.db import migrations


def drop_orphans(apps, schema_editor):
    connection = schema_editor.connection
    known = set(apps.get_model("documents", "CollectionIndex").objects.values_list("db_name", flat=True))
    with connection.cursor() as cursor:
        present = connection.introspection.get_constraints(cursor, "basalt_document")
        for name in sorted(present):
            if not name.startswith("bx_") or name in known or not present[name].get("index"):
                continue
            quoted = connection.ops.quote_name(name)
            cursor.execute(f"DROP INDEX IF EXISTS {quoted}")
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP STATISTICS IF EXISTS {connection.ops.quote_name(name[:59] + '_st')}")


class Migration(migrations.Migration):
    dependencies = [("documents", "0005_saved_view")]

    operations = [migrations.RunPython(drop_orphans, migrations.RunPython.noop)]
