# The decoder only changes how Python reads the columns: state only, no SQL. Without the wrapper
# SQLite would rebuild each table, dropping the indexes and triggers made by hand-written SQL.

import basalt.core.json
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0003_change_seq_moved"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="project",
                    name="settings",
                    field=models.JSONField(blank=True, decoder=basalt.core.json.StoredJson, default=dict),
                ),
            ],
        ),
    ]
