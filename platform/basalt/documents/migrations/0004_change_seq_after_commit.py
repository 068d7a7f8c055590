"""PostgreSQL numbers change-log rows after their transaction commits (documents/changefeed.py).

`seq` becomes nullable (a row has none until the sequencer numbers it), a partial index lists the
rows still to number, and `basalt_number_changes(project, limit)` is the sequencer's one round
trip: take the project's advisory lock if free (else return nothing: the holder will see our rows),
then, in a statement whose snapshot is taken after the lock is held, number the committed
unnumbered rows in insert order and move the project's counter by as many.
"""

from django.db import migrations, models


def number_function_sql(name: str, log: str, project: str) -> str:
    """The function's definition; bench/changelog_bench.py builds one on its own tables from it."""
    # Names are this module's and the bench's constants, never input.
    return f"""
CREATE OR REPLACE FUNCTION {name}(p bigint, batch integer)
RETURNS TABLE (out_id bigint, out_seq bigint, out_collection varchar, out_document_id varchar,
               out_type varchar, out_before jsonb, out_after jsonb)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtextextended('basalt.changelog:' || p, 0)) THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH pending AS (
    SELECT l.id, row_number() OVER (ORDER BY l.id) AS n FROM {log} l
    WHERE l.project_id = p AND l.seq IS NULL ORDER BY l.id LIMIT batch
  ), bump AS (
    UPDATE {project} SET change_seq = change_seq + (SELECT count(*) FROM pending)
    WHERE id = p AND EXISTS (SELECT 1 FROM pending) RETURNING change_seq
  )
  UPDATE {log} c SET seq = bump.change_seq - (SELECT count(*) FROM pending) + pending.n
  FROM pending, bump WHERE c.id = pending.id
  RETURNING c.id, c.seq::bigint, c.collection::varchar, c.document_id::varchar, c.type::varchar, c.before, c.after;
END
$fn$;
"""  # noqa: S608


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(number_function_sql("basalt_number_changes", "basalt_change_log", "basalt_project"))


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS basalt_number_changes(bigint, integer)")


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0003_field_purges"),
        ("projects", "0002_invitation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="changelogentry",
            name="seq",
            field=models.PositiveBigIntegerField(null=True),
        ),
        migrations.AddIndex(
            model_name="changelogentry",
            index=models.Index(
                condition=models.Q(("seq__isnull", True)), fields=["project", "id"], name="change_log_unnumbered"
            ),
        ),
        migrations.RunPython(install, uninstall),
    ]
