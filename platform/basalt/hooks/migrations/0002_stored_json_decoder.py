# The decoder only changes how Python reads the columns: state only, no SQL. Without the wrapper
# SQLite would rebuild each table, dropping the indexes and triggers made by hand-written SQL.

import basalt.core.json
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("hooks", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="delivery",
                    name="payload",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson),
                ),
                migrations.AlterField(
                    model_name="endpoint",
                    name="collections",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=list),
                ),
                migrations.AlterField(
                    model_name="endpoint",
                    name="events",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=list),
                ),
                migrations.AlterField(
                    model_name="endpoint",
                    name="where",
                    field=models.JSONField(blank=True, decoder=basalt.core.json.StoredJson, null=True),
                ),
                migrations.AlterField(
                    model_name="job",
                    name="config",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="jobrun",
                    name="counts",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
            ],
        ),
    ]
