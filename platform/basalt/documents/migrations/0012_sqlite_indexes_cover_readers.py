"""SQLite only: indexes that answer a signed-in count's ACL test without reading the rows.

`doc_coll_readers` (collection_id, read_principals) covers a count of a whole collection by a
user; declared plain indexes get `read_principals` as their last column (indexes.index_ddl), and
the ones already built are rebuilt here with it. SQLite builds an index in one pass under the
write lock, so a large embedded database pays this once, at the `migrate` that `serve` runs.
"""

from django.db import migrations

INDEX = "doc_coll_readers"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    from basalt.documents.indexes import index_ddl
    from basalt.documents.query.dialects import current_dialect

    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON basalt_document (collection_id, read_principals)")
    declared = apps.get_model("documents", "CollectionIndex")
    for row in declared.objects.filter(status="ready", unique=False).select_related("collection"):
        schema_editor.execute(f'DROP INDEX IF EXISTS "{row.db_name}"')
        schema_editor.execute(index_ddl(row, concurrently=False, dialect=current_dialect()))


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("documents", "0011_stored_json_decoder")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
