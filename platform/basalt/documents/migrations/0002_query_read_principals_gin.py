"""PostgreSQL only: a GIN index on read_principals so `read_principals ?| principals` can use it."""

from django.db import migrations

INDEX = "doc_read_principals_gin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON basalt_document USING gin (read_principals)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
