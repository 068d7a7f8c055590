"""The project's change-log counter moves from `basalt_project.change_seq` to its own narrow table,
`basalt_change_seq` (models.ChangeSequence says why), and the sequencer's two functions move it there.

A project's row is made by its first numbered write (an upsert), so creating a project writes nothing
here. The functions keep their signatures and results (migrations 0004 and 0008)."""

from importlib import import_module

from django.db import migrations, models

NUMBER_CHANGES = """
CREATE OR REPLACE FUNCTION basalt_number_changes(p bigint, batch integer)
RETURNS TABLE (out_id bigint, out_seq bigint, out_collection varchar, out_document_id varchar,
               out_type varchar, out_before jsonb, out_after jsonb)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtextextended('basalt.changelog:' || p, 0)) THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH pending AS (
    SELECT l.id, row_number() OVER (ORDER BY l.id) AS n FROM basalt_change_log l
    WHERE l.project_id = p AND l.seq IS NULL ORDER BY l.id LIMIT batch
  ), bump AS (
    INSERT INTO basalt_change_seq AS s (project_id, change_seq)
    SELECT p, count(*) FROM pending HAVING count(*) > 0
    ON CONFLICT (project_id) DO UPDATE SET change_seq = s.change_seq + excluded.change_seq
    RETURNING s.change_seq
  )
  UPDATE basalt_change_log c SET seq = bump.change_seq - (SELECT count(*) FROM pending) + pending.n
  FROM pending, bump WHERE c.id = pending.id
  RETURNING c.id, c.seq::bigint, c.collection::varchar, c.document_id::varchar, c.type::varchar, c.before, c.after;
END
$fn$;
"""

LOG_CHANGE = """
CREATE OR REPLACE FUNCTION basalt_log_change(
  p bigint, coll varchar, doc varchar, kind varchar, bef jsonb, aft jsonb, at timestamptz, batch integer)
RETURNS TABLE (out_id bigint, out_seq bigint, out_collection varchar, out_document_id varchar,
               out_type varchar, out_before jsonb, out_after jsonb)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  mine bigint;
  next_seq bigint;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtextextended('basalt.changelog:' || p, 0)) THEN
    INSERT INTO basalt_change_log (project_id, collection, document_id, type, before, after, created_at)
    VALUES (p, coll, doc, kind, bef, aft, at);
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM basalt_change_log WHERE project_id = p AND seq IS NULL) THEN
    LOOP  -- every one of them: a row of the same document left behind must precede ours
      RETURN QUERY SELECT * FROM basalt_number_changes(p, batch);
      EXIT WHEN NOT FOUND;
    END LOOP;
  END IF;
  INSERT INTO basalt_change_seq AS s (project_id, change_seq) VALUES (p, 1)
  ON CONFLICT (project_id) DO UPDATE SET change_seq = s.change_seq + 1 RETURNING s.change_seq INTO next_seq;
  INSERT INTO basalt_change_log (project_id, seq, collection, document_id, type, before, after, created_at)
  VALUES (p, next_seq, coll, doc, kind, bef, aft, at) RETURNING id INTO mine;
  RETURN QUERY SELECT mine, next_seq, coll, doc, kind, NULL::jsonb, NULL::jsonb;
END
$fn$;
"""


def copy_counters(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO basalt_change_seq (project_id, change_seq) "
            "SELECT id, change_seq FROM basalt_project WHERE change_seq > 0"
        )


def copy_counters_back(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE basalt_project SET change_seq = s.change_seq "
            "FROM basalt_change_seq s WHERE s.project_id = basalt_project.id"
        )


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NUMBER_CHANGES)
        schema_editor.execute(LOG_CHANGE)


def reinstall_previous(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    previous_number = import_module("basalt.documents.migrations.0004_change_seq_after_commit")
    previous_log = import_module("basalt.documents.migrations.0008_log_change_in_place")
    schema_editor.execute(
        previous_number.number_function_sql("basalt_number_changes", "basalt_change_log", "basalt_project")
    )
    schema_editor.execute(previous_log.FUNCTION)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0009_statistics_only_for_large_collections"),
        ("projects", "0002_invitation"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChangeSequence",
            fields=[
                (
                    "project",
                    models.OneToOneField(
                        on_delete=models.deletion.CASCADE,
                        primary_key=True,
                        related_name="change_sequence",
                        serialize=False,
                        to="projects.project",
                    ),
                ),
                ("change_seq", models.PositiveBigIntegerField(default=0)),
            ],
            options={"db_table": "basalt_change_seq"},
        ),
        migrations.RunPython(copy_counters, copy_counters_back),
        migrations.RunPython(install, reinstall_previous),
    ]
