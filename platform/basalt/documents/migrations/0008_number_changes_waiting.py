"""`basalt_number_changes_waiting(project, limit)`: the sequencer's pass that queues for the project's
lock instead of skipping (documents/changefeed.py, "numbered at the end of the writer's transaction").

A writer numbers its change-log rows as the last statement of its own transaction when the lock is
free. One that found it taken numbers after its commit with this function: the holder keeps the lock
only for its numbering and its commit, so the wait is short, and no committed row is left for the
sweep. The wait is bounded (`lock_timeout`); past it the sweep numbers the row.
"""

import importlib

from django.db import migrations

_0004 = importlib.import_module("basalt.documents.migrations.0004_change_seq_after_commit")

WAIT_LOCK = """
  PERFORM set_config('lock_timeout', '2s', true);
  PERFORM pg_advisory_xact_lock(hashtextextended('basalt.changelog:' || p, 0));"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            _0004.number_function_sql(
                "basalt_number_changes_waiting", "basalt_change_log", "basalt_project", lock=WAIT_LOCK
            )
        )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS basalt_number_changes_waiting(bigint, integer)")


class Migration(migrations.Migration):
    dependencies = [("documents", "0007_drop_document_id_like_index")]

    operations = [migrations.RunPython(install, uninstall)]
