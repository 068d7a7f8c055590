"""PostgreSQL only: a partial index of every collection's public documents, for counts.

A reader's count is the public documents' count plus the others' (`Compiler.count`); with this
index PostgreSQL counts a collection's public documents from the index alone (an index-only scan:
no row is visited on pages the visibility map marks all-visible), where the ACL test on each row
made it visit every document of the collection."""

from django.db import migrations

INDEX = "doc_public"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # CONCURRENTLY: the shared documents table keeps taking writes while the index is built. A
        # build that failed left an INVALID index behind, which IF NOT EXISTS would keep.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
                [INDEX],
            )
            invalid = cursor.fetchone()
        if invalid and invalid[0]:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON basalt_document (collection_id) "
            "WHERE read_principals ? '*'"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("documents", "0012_sqlite_indexes_cover_readers")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
