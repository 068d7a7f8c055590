"""SQLite only: `doc_public` holds each entry's read principals, so a reader's count of its public
documents never touches the document table.

The count's public part names its documents by the index's own predicate (SqliteDialect.public_only).
SQLite then tests no row, but with `doc_public (collection_id)` it still set up a seek into the
table for every entry (a `DeferredSeek` per document, in case a column was read); with the read
principals in the entry the index covers the statement and the table stays closed. A user's count
of 15,050 public posts and 1,000 others: 0.74 ms of SQLite → 0.49 (bench/README.md). Public
documents' principals are short (`["*"]`, perhaps an owner), so the entries stay small, and a write
still touches one page of this index.
"""

from django.db import migrations


def narrow_to_covering(apps, schema_editor):
    _rebuild(schema_editor, "collection_id, read_principals")


def covering_to_narrow(apps, schema_editor):
    _rebuild(schema_editor, "collection_id")


def _rebuild(schema_editor, columns: str) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    from basalt.documents.query.dialects import SqliteDialect

    schema_editor.execute("DROP INDEX IF EXISTS doc_public")
    schema_editor.execute(
        f"CREATE INDEX doc_public ON basalt_document ({columns}) WHERE {SqliteDialect.PUBLIC_BY_TEXT}"
    )


class Migration(migrations.Migration):
    dependencies = [("documents", "0014_sqlite_public_split_indexes")]
    operations = [migrations.RunPython(narrow_to_covering, covering_to_narrow, elidable=False)]
