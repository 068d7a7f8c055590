"""Drop Django's `varchar_pattern_ops` twin of basalt_document's primary key (PostgreSQL).

Django adds it to every CharField key so `LIKE 'prefix%'` can use an index; Basalt never asks for
one on document ids (equality, IN and range only, all served by the primary key), and the twin is
one more random-order B-tree written by every create. The schema editor drops it with IF EXISTS
should the field ever be altered."""

from django.db import migrations


def like_index_name(schema_editor) -> str:
    return schema_editor._create_index_name("basalt_document", ["id"], suffix="_like")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(like_index_name(schema_editor))}")


def restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        name = schema_editor.quote_name(like_index_name(schema_editor))
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON basalt_document (id varchar_pattern_ops)")


class Migration(migrations.Migration):
    dependencies = [("documents", "0006_drop_orphaned_indexes")]

    operations = [migrations.RunPython(drop, restore)]
