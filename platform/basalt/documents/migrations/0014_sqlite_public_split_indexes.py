"""SQLite only: the two partial indexes a reader's count of a whole collection is split over.

`doc_public` (collection_id) holds the documents whose read_principals text names `*` without a
backslash, so their count reads index entries with no ACL test on each; `doc_not_public`
(collection_id, read_principals) holds all the others, tested as before (SqliteDialect.public_only,
Compiler.count). Together they hold what `doc_coll_readers` held, which they replace. SQLite
builds an index in one pass under the write lock, so a large embedded database pays this once, at
the `migrate` that `serve` runs.
"""

from django.db import migrations

REPLACED = "doc_coll_readers"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    from basalt.documents.query.dialects import SqliteDialect

    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS doc_public ON basalt_document (collection_id) WHERE {SqliteDialect.PUBLIC_BY_TEXT}"
    )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS doc_not_public ON basalt_document (collection_id, read_principals) "
        f"WHERE {SqliteDialect.NOT_PUBLIC_BY_TEXT}"
    )
    schema_editor.execute(f"DROP INDEX IF EXISTS {REPLACED}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {REPLACED} ON basalt_document (collection_id, read_principals)")
    schema_editor.execute("DROP INDEX IF EXISTS doc_public")
    schema_editor.execute("DROP INDEX IF EXISTS doc_not_public")


class Migration(migrations.Migration):
    dependencies = [("documents", "0013_public_documents_index")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
