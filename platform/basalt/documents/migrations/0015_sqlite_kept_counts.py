"""SQLite only: each collection's count of documents, and of public documents, kept by triggers.

A count of a whole collection read every index entry of it: the secret key's 16,050 posts cost
0.34 ms of SQLite, a user's 0.74 (the public ones from `doc_public`, then the others from
`doc_not_public`). `basalt_document_count` holds, per collection, how many documents there are
(`total`) and how many of them are public the way SqliteDialect.PUBLIC_BY_TEXT names them
(`public`). Triggers on the document table change it in the same statement as the row, so a count
read inside any transaction agrees with the rows that transaction sees, a rolled-back write takes
its change back with it, and no code path (import, purge, raw SQL) can miss it. SQLite runs one
writer at a time, so the counter row adds no wait; PostgreSQL, where it would queue every writer
of a collection on one row until commit, counts from its indexes instead (Compiler.count).

A count of all is then the kept total (the secret key) or the kept public count plus the other
documents a reader may read, from `doc_not_public` (SqliteDialect.kept_count). `doc_public` served
only that public part and goes: a write touches the counter's page instead of an index page.
"""

from django.db import migrations

TABLE = "basalt_document_count"
TRIGGERS = ("basalt_document_counted_insert", "basalt_document_counted_delete", "basalt_document_counted_move")


def _public(row: str) -> str:
    from basalt.documents.query.dialects import SqliteDialect

    # 1 or 0: the predicate of SqliteDialect.PUBLIC_BY_TEXT on the trigger's OLD or NEW row.
    return "(" + SqliteDialect.PUBLIC_BY_TEXT.replace("read_principals", f"{row}.read_principals") + ")"


def _add(row: str) -> str:
    return (
        f"INSERT INTO {TABLE} (collection_id, total, public) VALUES ({row}.collection_id, 1, {_public(row)}) "  # noqa: S608 (constants)
        "ON CONFLICT (collection_id) DO UPDATE SET total = total + 1, public = public + excluded.public;"
    )


def _remove(row: str) -> str:
    return (
        f"UPDATE {TABLE} SET total = total - 1, public = public - {_public(row)} "  # noqa: S608 (constants)
        f"WHERE collection_id = {row}.collection_id;"
    )


def keep_counts(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    from basalt.documents.query.dialects import SqliteDialect

    run = schema_editor.execute
    run(
        f"CREATE TABLE {TABLE} (collection_id integer NOT NULL PRIMARY KEY, "
        "total integer NOT NULL, public integer NOT NULL)"
    )
    run(
        f"INSERT INTO {TABLE} (collection_id, total, public) "  # noqa: S608 (constants)
        f"SELECT collection_id, COUNT(*), SUM({SqliteDialect.PUBLIC_BY_TEXT}) FROM basalt_document GROUP BY collection_id"
    )
    run(f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON basalt_document BEGIN {_add('NEW')} END")
    run(f"CREATE TRIGGER {TRIGGERS[1]} AFTER DELETE ON basalt_document BEGIN {_remove('OLD')} END")
    run(
        f"CREATE TRIGGER {TRIGGERS[2]} AFTER UPDATE OF collection_id, read_principals ON basalt_document "
        f"WHEN OLD.collection_id IS NOT NEW.collection_id OR {_public('OLD')} IS NOT {_public('NEW')} "
        f"BEGIN {_remove('OLD')} {_add('NEW')} END"
    )
    run("DROP INDEX IF EXISTS doc_public")


def count_from_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    from basalt.documents.query.dialects import SqliteDialect

    for trigger in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS doc_public ON basalt_document (collection_id) WHERE {SqliteDialect.PUBLIC_BY_TEXT}"
    )


class Migration(migrations.Migration):
    dependencies = [("documents", "0014_sqlite_public_split_indexes")]
    operations = [migrations.RunPython(keep_counts, count_from_indexes, elidable=False)]
