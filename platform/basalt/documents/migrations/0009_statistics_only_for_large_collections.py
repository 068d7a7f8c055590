"""Drop the field statistics of declared indexes whose collection is small (documents/statistics.py,
STATISTICS_FROM_ROWS): the planner reads every statistics object of `basalt_document` for every
query on it, so one per index of every collection made all finds slower as an installation grew.
A collection that grows large gets them back at the ANALYZE its growth brings."""

from django.db import migrations

# The values of this release (statistics.STATISTICS_FROM_ROWS, indexes.statistics_name), frozen here.
FROM_ROWS = 5000


def drop_small(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    CollectionIndex = apps.get_model("documents", "CollectionIndex")
    with connection.cursor() as cursor:
        cursor.execute("SELECT stxname FROM pg_statistic_ext WHERE stxrelid = 'basalt_document'::regclass")
        existing = {name for (name,) in cursor.fetchall()}
        for db_name, collection_id in CollectionIndex.objects.values_list("db_name", "collection_id"):
            name = f"{db_name[:59]}_st"
            if name not in existing:
                continue
            cursor.execute(
                "SELECT count(*) FROM (SELECT 1 FROM basalt_document WHERE collection_id = %s LIMIT %s) AS rows",
                [collection_id, FROM_ROWS],
            )
            if cursor.fetchone()[0] < FROM_ROWS:
                cursor.execute(f'DROP STATISTICS IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("documents", "0008_log_change_in_place")]

    operations = [migrations.RunPython(drop_small, migrations.RunPython.noop)]
