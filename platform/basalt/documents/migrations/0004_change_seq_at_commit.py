"""Number change-log rows at commit (PostgreSQL): see documents/README.md, "The change log"."""

from django.db import migrations, models

# A deferred constraint trigger runs in the committing transaction after every statement of it:
# the per-project counter row is locked only from there to the end of the commit, never while the
# client is between statements. seq order stays commit order (the next committer waits for the
# row), and no seq is lost (the counter bump is part of the transaction).
NUMBER_AT_COMMIT = """
CREATE OR REPLACE FUNCTION basalt_change_log_number() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH s AS (UPDATE basalt_project SET change_seq = change_seq + 1 WHERE id = NEW.project_id RETURNING change_seq)
  UPDATE basalt_change_log SET seq = s.change_seq FROM s WHERE basalt_change_log.id = NEW.id;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER basalt_change_log_number AFTER INSERT ON basalt_change_log
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.seq IS NULL)
  EXECUTE FUNCTION basalt_change_log_number();
"""
DROP = """
DROP TRIGGER IF EXISTS basalt_change_log_number ON basalt_change_log;
DROP FUNCTION IF EXISTS basalt_change_log_number();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NUMBER_AT_COMMIT)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0003_field_purges"),
    ]

    operations = [
        migrations.AlterField(model_name="changelogentry", name="seq", field=models.PositiveBigIntegerField(null=True)),
        migrations.RunPython(install, uninstall),
    ]
