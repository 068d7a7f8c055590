"""`basalt_log_change(...)`: a write's change-log row, numbered as it is inserted when it can be.

A write's last statement (documents/changefeed.py, "numbered in place") inserts its row and, if the
project's sequencer lock is free, gives it the next seq in the same statement: one round trip and
one tuple, where inserting unnumbered and numbering after (migration 0004) took two round trips and
wrote the row twice. Rows other writers left unnumbered are numbered first, in insert order, so
seqs still follow insert order. When the lock is taken the row goes in unnumbered, as before, for
the holder's pass after its commit.

Returns the rows it numbered; the caller's own row comes last, without its before/after (the
caller has them).
"""

from django.db import migrations

FUNCTION = """
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
  UPDATE basalt_project SET change_seq = change_seq + 1 WHERE id = p RETURNING change_seq INTO next_seq;
  INSERT INTO basalt_change_log (project_id, seq, collection, document_id, type, before, after, created_at)
  VALUES (p, next_seq, coll, doc, kind, bef, aft, at) RETURNING id INTO mine;
  RETURN QUERY SELECT mine, next_seq, coll, doc, kind, NULL::jsonb, NULL::jsonb;
END
$fn$;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS basalt_log_change(bigint, varchar, varchar, varchar, jsonb, jsonb, timestamptz, integer)"
        )


class Migration(migrations.Migration):
    dependencies = [("documents", "0007_drop_document_id_like_index")]

    operations = [migrations.RunPython(install, uninstall)]
